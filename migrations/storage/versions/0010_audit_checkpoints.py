"""Audit: an append can no longer be wedged by a row off the chain, and signed
checkpoints of each tenant's chain head.

A row inserted at the next sequence number (or with a retried id) by someone holding
the owner role made every later append of that tenant fail with a unique violation.
`audit_append` now reports that as SQLSTATE UA409 (answered 409 with a reason), and an
idempotent retry is answered only by an event on the chain.

`audit_checkpoints` keeps Ed25519-signed `(tenant, seq, hash, time)` heads: the runtime
and system roles may add them and read them, never change or remove them (no grant, and
a trigger for the owner too).

Revision ID: 0010
"""

from alembic import op

from unison_shared.migration_helpers import enable_tenant_rls, revoke_writes

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_APPEND_FN = """
CREATE OR REPLACE FUNCTION audit_append(
    p_tenant text, p_scope_person text, p_id text, p_actor text, p_action text,
    p_target text, p_decision_id text, p_status text, p_person_id text, p_payload jsonb)
RETURNS TABLE (o_seq bigint, o_id text, o_actor text, o_action text, o_target text,
               o_decision_id text, o_status text, o_person_id text, o_payload text,
               o_created_at timestamptz, o_prev_hash text, o_hash text, o_created boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_seq bigint;
    v_prev text;
    v_id text := coalesce(p_id, gen_random_uuid()::text);
    v_at timestamptz;
    v_hash text;
BEGIN
    -- The caller's connection is already in its tenant's scope: append only there.
    IF p_tenant IS DISTINCT FROM current_setting('app.tenant_id', true) THEN
        RAISE EXCEPTION 'audit_append: the tenant is not the session''s scope'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM set_config('app.person_id', coalesce(p_scope_person, ''), true);
    -- Locks the head row until the transaction ends: appends from every replica queue
    -- here, and under READ COMMITTED a waiter re-reads the head its predecessor moved.
    INSERT INTO audit_heads AS h (tenant_id, seq, hash)
    VALUES (p_tenant, 0, repeat('0', 64))
    ON CONFLICT (tenant_id) DO UPDATE SET seq = h.seq
    RETURNING h.seq, h.hash INTO v_seq, v_prev;
    -- A retry of an event already in the chain answers with that event, unchanged.
    -- Looked up under the head lock, so a concurrent retry has committed or not begun.
    IF p_id IS NOT NULL THEN
        RETURN QUERY
            SELECT e.seq, e.id, e.actor, e.action, e.target, e.decision_id, e.status,
                   e.person_id, e.payload::text, e.created_at, e.prev_hash, e.hash, false
            FROM audit_events e
            WHERE e.tenant_id = p_tenant AND e.id = p_id AND e.seq <= v_seq;
        IF FOUND THEN
            RETURN;
        END IF;
    END IF;
    v_seq := v_seq + 1;
    -- Taken under the lock, so event times follow the chain order.
    v_at := clock_timestamp();
    v_hash := encode(sha256(audit_canonical_v2(
        p_tenant, v_seq, v_id, p_actor, p_action, p_target, p_decision_id, p_status,
        p_person_id, p_payload::text, v_at, v_prev)), 'hex');
    INSERT INTO audit_events (tenant_id, seq, id, actor, action, target, decision_id,
                              status, person_id, payload, created_at, prev_hash, hash,
                              hash_version)
    VALUES (p_tenant, v_seq, v_id, p_actor, p_action, p_target, p_decision_id, p_status,
            p_person_id, p_payload, v_at, v_prev, v_hash, 2)
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        -- A row that is not on the chain holds the next sequence number or this id
        -- (only the owner role can have put it there): refuse with a reason an operator
        -- can act on, instead of a unique violation on every append from now on.
        RAISE EXCEPTION 'the audit chain is blocked at sequence % by an event that is '
            'not on the chain; POST /v1/audit/verify reports it (docs/storage.md, '
            'Security)', v_seq USING ERRCODE = 'UA409';
    END IF;
    UPDATE audit_heads SET seq = v_seq, hash = v_hash WHERE tenant_id = p_tenant;
    RETURN QUERY SELECT v_seq, v_id, p_actor, p_action, p_target, p_decision_id, p_status,
                        p_person_id, p_payload::text, v_at, v_prev, v_hash, true;
END
$$
"""


def upgrade() -> None:
    op.execute(_APPEND_FN)
    op.execute("""
    CREATE TABLE audit_checkpoints (
        tenant_id  text        NOT NULL,
        seq        bigint      NOT NULL,
        hash       text        NOT NULL,
        signed_at  timestamptz NOT NULL,
        key_id     text        NOT NULL,
        signature  bytea       NOT NULL,
        PRIMARY KEY (tenant_id, seq, key_id)
    )""")
    enable_tenant_rls(op.execute, "audit_checkpoints")
    revoke_writes(op.execute, "audit_checkpoints")
    op.execute(f"GRANT INSERT ON audit_checkpoints TO {_roles()}")
    op.execute("CREATE TRIGGER audit_checkpoints_no_update_delete BEFORE UPDATE OR DELETE "
               "ON audit_checkpoints FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()")
    op.execute("CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE "
               "ON audit_checkpoints FOR EACH STATEMENT "
               "EXECUTE FUNCTION audit_events_append_only()")


def _roles() -> str:
    from unison_shared.migration_helpers import RUNTIME_ROLE, SYSTEM_ROLE, sql_identifier

    return f"{sql_identifier(RUNTIME_ROLE)}, {sql_identifier(SYSTEM_ROLE)}"


def downgrade() -> None:
    op.execute("DROP TABLE audit_checkpoints")
