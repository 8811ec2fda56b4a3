"""Per-tenant data keys (wrapped by the KEK) and the vault's secrets and versions.

Revision ID: 0004
"""

from alembic import op

from unison_shared.migration_helpers import enable_tenant_rls

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE tenant_data_keys (
        tenant_id    text        NOT NULL,
        version      integer     NOT NULL,
        kek_version  text        NOT NULL,
        wrapped_key  bytea       NOT NULL,
        created_at   timestamptz NOT NULL DEFAULT now(),
        rewrapped_at timestamptz,
        PRIMARY KEY (tenant_id, version)
    )""")
    enable_tenant_rls(op.execute, "tenant_data_keys")
    op.execute("""
    CREATE TABLE vault_secrets (
        id              uuid        PRIMARY KEY,
        tenant_id       text        NOT NULL,
        person_id       text        NOT NULL DEFAULT '',
        name            text        NOT NULL,
        current_version integer     NOT NULL DEFAULT 0 CHECK (current_version >= 0),
        max_versions    integer     NOT NULL CHECK (max_versions >= 1),
        metadata        jsonb       NOT NULL DEFAULT '{}'::jsonb,
        created_at      timestamptz NOT NULL DEFAULT now(),
        updated_at      timestamptz NOT NULL DEFAULT now(),
        deleted_at      timestamptz,
        UNIQUE (tenant_id, person_id, name)
    )""")
    enable_tenant_rls(op.execute, "vault_secrets")
    op.execute("""
    CREATE TABLE vault_versions (
        tenant_id    text        NOT NULL,
        secret_id    uuid        NOT NULL REFERENCES vault_secrets(id) ON DELETE CASCADE,
        version      integer     NOT NULL,
        ciphertext   bytea,
        dek_version  integer     NOT NULL,
        created_at   timestamptz NOT NULL DEFAULT now(),
        destroyed_at timestamptz,
        PRIMARY KEY (secret_id, version),
        -- destroyed (crypto-erased) exactly when the ciphertext is gone
        CHECK ((ciphertext IS NULL) = (destroyed_at IS NOT NULL))
    )""")
    op.execute("COMMENT ON COLUMN vault_secrets.metadata IS "
               "'caller metadata: stored in plain text, must never hold secret material'")
    op.execute("COMMENT ON COLUMN vault_versions.ciphertext IS "
               "'AES-256-GCM under the tenant data key dek_version; AAD = tenant, secret id, "
               "version; NULL once destroyed'")
    enable_tenant_rls(op.execute, "vault_versions")


def downgrade() -> None:
    op.execute("DROP TABLE vault_versions")
    op.execute("DROP TABLE vault_secrets")
    op.execute("DROP TABLE tenant_data_keys")
