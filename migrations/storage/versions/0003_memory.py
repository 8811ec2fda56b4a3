"""Working memory: entries per session with a hard expiry.

Revision ID: 0003
"""

from alembic import op

from unison_shared.migration_helpers import enable_tenant_rls

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE memory_entries (
        id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        tenant_id   text        NOT NULL,
        person_id   text        NOT NULL DEFAULT '',
        session_id  text        NOT NULL,
        key         text,
        keyspace    text        NOT NULL DEFAULT 'default',
        payload     jsonb       NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        expires_at  timestamptz NOT NULL
    )""")
    op.execute("CREATE INDEX memory_entries_session ON memory_entries "
               "(tenant_id, person_id, session_id, id DESC)")
    op.execute("CREATE UNIQUE INDEX memory_entries_key ON memory_entries "
               "(tenant_id, person_id, session_id, key) WHERE key IS NOT NULL")
    op.execute("CREATE INDEX memory_entries_expiry ON memory_entries (expires_at)")
    enable_tenant_rls(op.execute, "memory_entries")


def downgrade() -> None:
    op.execute("DROP TABLE memory_entries")
