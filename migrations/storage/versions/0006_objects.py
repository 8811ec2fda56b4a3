"""Object metadata; payloads live in the object store under `storage_key`.

Revision ID: 0006
"""

from alembic import op

from unison_shared.migration_helpers import enable_tenant_rls

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE objects (
        tenant_id    text        NOT NULL,
        id           text        NOT NULL,
        person_id    text        NOT NULL DEFAULT '',
        filename     text,
        content_type text        NOT NULL DEFAULT 'application/octet-stream',
        size_bytes   bigint      NOT NULL CHECK (size_bytes >= 0),
        sha256       text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
        labels       jsonb       NOT NULL DEFAULT '{}'::jsonb,
        storage_key  text        NOT NULL UNIQUE,
        created_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, id)
    )""")
    # Serves the list (newest first, keyset on (created_at, id)) and the per-tenant quota sum.
    op.execute("CREATE INDEX objects_person ON objects "
               "(tenant_id, person_id, created_at DESC, id DESC) INCLUDE (size_bytes)")
    op.execute("CREATE INDEX objects_labels ON objects USING gin (labels)")
    enable_tenant_rls(op.execute, "objects")


def downgrade() -> None:
    op.execute("DROP TABLE objects")
