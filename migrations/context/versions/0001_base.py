"""Context base: per-person data keys, profiles (current and bounded history), profile
credentials (PIN/passcode hashes), dashboards, conversations and the context KV.

Every row carries tenant_id and person_id; row-level security keys on the tenant.
Profile, dashboard and KV values are stored only as AES-256-GCM ciphertext under the
person's data key (AAD: tenant, record kind, person, record).

Revision ID: 0001
"""

from alembic import op

from unison_shared import migration_helpers as helpers
from unison_shared.migration_helpers import TENANT_VISIBLE_FN, enable_tenant_rls

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TABLES = ["person_data_keys", "profiles", "profile_history", "profile_credentials",
          "dashboards", "conversation_sessions", "conversation_messages", "context_kv"]


def _roles_step(name: str, *args: str) -> None:
    """The kit's database-role steps (the runtime role owns nothing and has row
    privileges only), where this version of the kit has them."""
    step = getattr(helpers, name, None)
    if step is not None:
        step(op.execute, *args)


def upgrade() -> None:
    _roles_step("require_roles")
    op.execute(TENANT_VISIBLE_FN)
    op.execute("""
    CREATE TABLE person_data_keys (
        tenant_id    text        NOT NULL,
        person_id    text        NOT NULL,
        version      integer     NOT NULL,
        kek_version  text        NOT NULL,
        wrapped_key  bytea       NOT NULL,
        created_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, person_id, version)
    )""")
    op.execute("""
    CREATE TABLE profiles (
        tenant_id   text        NOT NULL,
        person_id   text        NOT NULL,
        version     bigint      NOT NULL,
        ciphertext  bytea       NOT NULL,
        dek_version integer     NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        updated_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, person_id)
    )""")
    op.execute("""
    CREATE TABLE profile_history (
        tenant_id   text        NOT NULL,
        person_id   text        NOT NULL,
        version     bigint      NOT NULL,
        ciphertext  bytea       NOT NULL,
        dek_version integer     NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, person_id, version)
    )""")
    op.execute("""
    CREATE TABLE profile_credentials (
        tenant_id   text        NOT NULL,
        person_id   text        NOT NULL,
        kind        text        NOT NULL CHECK (kind IN ('pin', 'passcode')),
        hash        text        NOT NULL,
        updated_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, person_id, kind)
    )""")
    op.execute("COMMENT ON COLUMN profile_credentials.hash IS "
               "'argon2id hash (salted, slow); the PIN itself is never stored'")
    op.execute("""
    CREATE TABLE dashboards (
        tenant_id   text        NOT NULL,
        person_id   text        NOT NULL,
        version     bigint      NOT NULL,
        ciphertext  bytea       NOT NULL,
        dek_version integer     NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        updated_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, person_id)
    )""")
    op.execute("""
    CREATE TABLE conversation_sessions (
        tenant_id   text        NOT NULL,
        person_id   text        NOT NULL,
        session_id  text        NOT NULL,
        response    jsonb,
        summary     text,
        next_seq    bigint      NOT NULL DEFAULT 1,
        created_at  timestamptz NOT NULL DEFAULT now(),
        updated_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, person_id, session_id)
    )""")
    op.execute("CREATE INDEX conversation_sessions_recent ON conversation_sessions "
               "(tenant_id, person_id, updated_at DESC, session_id DESC)")
    op.execute("""
    CREATE TABLE conversation_messages (
        tenant_id   text        NOT NULL,
        person_id   text        NOT NULL,
        session_id  text        NOT NULL,
        seq         bigint      NOT NULL,
        body        jsonb       NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, person_id, session_id, seq),
        FOREIGN KEY (tenant_id, person_id, session_id)
            REFERENCES conversation_sessions (tenant_id, person_id, session_id)
            ON DELETE CASCADE
    )""")
    op.execute("""
    CREATE TABLE context_kv (
        tenant_id   text        NOT NULL,
        person_id   text        NOT NULL,
        key         text        NOT NULL,
        tier        text        CHECK (tier IN ('A', 'B', 'C')),
        ciphertext  bytea       NOT NULL,
        dek_version integer     NOT NULL,
        updated_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, person_id, key)
    )""")
    for table in TABLES:
        enable_tenant_rls(op.execute, table)
    _roles_step("grant_runtime_privileges")
    _roles_step("revoke_writes", "alembic_version_context")


def downgrade() -> None:
    for table in reversed(TABLES):
        op.execute(f"DROP TABLE {table}")
    op.execute("DROP FUNCTION IF EXISTS app_tenant_visible(text)")
