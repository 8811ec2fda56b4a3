"""Per-person data keys, so that erasing a person can destroy the keys that sealed their
records (crypto-shredding) without touching a household's other persons.

A person has one data key per version of the tenant's data key, made when first needed
and wrapped (AES-256-GCM) by that tenant key version, which the KEK wraps: a KEK
rotation rewraps the tenant keys and so covers the person keys beneath them, and a
tenant data-key rotation gives every person a new key as they next write. A record of a
person keeps naming its key by the tenant key version in its `dek_version` column: it is
sealed under that person's key of the version, or (a record written before this
revision) under the tenant key of the version; AES-GCM's authentication tells which.
Erasing the person deletes their rows here: nothing can open their records again.

Revision ID: 0019
"""

from alembic import op

from unison_shared.migration_helpers import enable_tenant_rls

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_SEALED = {
    "vault_versions": "ciphertext",
    "kv_records": "value_enc",
    "thread_state_versions": "ciphertext",
    "workflows": "context_enc",
}


def upgrade() -> None:
    op.execute("""
    CREATE TABLE person_data_keys (
        tenant_id   text        NOT NULL,
        person_id   text        NOT NULL CHECK (person_id <> ''),
        version     integer     NOT NULL,
        wrapped_key bytea       NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, person_id, version)
    )""")
    op.execute("COMMENT ON TABLE person_data_keys IS 'per-person data keys, each wrapped by "
               "the tenant data key of the same version (AAD = tenant, person, version); "
               "deleted when the person is erased'")
    enable_tenant_rls(op.execute, "person_data_keys")
    for table, column in _SEALED.items():
        op.execute(f"COMMENT ON COLUMN {table}.dek_version IS 'the tenant data key version "
                   f"that {column} was sealed under: through the row''s person''s data key "
                   "of that version (person_data_keys), or directly for a row of no person "
                   "and rows written before revision 0019'")


def downgrade() -> None:
    op.execute("DROP TABLE person_data_keys")
