"""Audit events: append-only (a trigger rejects UPDATE, DELETE and TRUNCATE) and
hash-chained per tenant; audit_heads holds each tenant's chain head and serialises
appends from every replica.

Revision ID: 0005
"""

from alembic import op

from unison_shared.migration_helpers import enable_tenant_rls

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE audit_events (
        tenant_id   text        NOT NULL,
        seq         bigint      NOT NULL,
        id          text        NOT NULL,
        actor       text,
        action      text        NOT NULL,
        target      text,
        decision_id text,
        status      text,
        person_id   text,
        payload     jsonb       NOT NULL DEFAULT '{}'::jsonb,
        created_at  timestamptz NOT NULL,
        prev_hash   text        NOT NULL,
        hash        text        NOT NULL,
        PRIMARY KEY (tenant_id, seq),
        UNIQUE (tenant_id, id)
    )""")
    op.execute("CREATE INDEX audit_events_time ON audit_events (tenant_id, created_at)")
    op.execute("CREATE INDEX audit_events_actor ON audit_events (tenant_id, actor, seq)")
    op.execute("CREATE INDEX audit_events_action ON audit_events (tenant_id, action, seq)")
    op.execute("CREATE INDEX audit_events_person ON audit_events (tenant_id, person_id, seq)")
    enable_tenant_rls(op.execute, "audit_events")
    op.execute("""
    CREATE TABLE audit_heads (
        tenant_id text   PRIMARY KEY,
        seq       bigint NOT NULL,
        hash      text   NOT NULL
    )""")
    enable_tenant_rls(op.execute, "audit_heads")
    op.execute("""
    CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END $$""")
    op.execute("CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE "
               "ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()")
    op.execute("CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE "
               "ON audit_events FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()")


def downgrade() -> None:
    op.execute("DROP TABLE audit_heads")
    op.execute("DROP TABLE audit_events")
    op.execute("DROP FUNCTION audit_events_append_only()")
