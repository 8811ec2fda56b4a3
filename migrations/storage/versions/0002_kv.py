"""KV records: namespace/key -> JSON, with a version for ETag/If-Match and optional TTL.

Values of sensitive namespaces are stored only as ciphertext (value_enc), never in value.

Revision ID: 0002
"""

from alembic import op

from unison_shared.migration_helpers import enable_tenant_rls

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE kv_records (
        tenant_id   text        NOT NULL,
        person_id   text        NOT NULL DEFAULT '',
        namespace   text        NOT NULL,
        key         text        NOT NULL,
        value       jsonb,
        value_enc   bytea,
        dek_version integer,
        version     bigint      NOT NULL DEFAULT 1,
        expires_at  timestamptz,
        created_at  timestamptz NOT NULL DEFAULT now(),
        updated_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, person_id, namespace, key),
        CHECK ((value IS NULL) <> (value_enc IS NULL))
    )""")
    op.execute("CREATE INDEX kv_records_expiry ON kv_records (expires_at) "
               "WHERE expires_at IS NOT NULL")
    enable_tenant_rls(op.execute, "kv_records")


def downgrade() -> None:
    op.execute("DROP TABLE kv_records")
