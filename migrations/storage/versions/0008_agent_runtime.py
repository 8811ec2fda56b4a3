"""Agent-runtime records on one thread model: threads (the Cortex-Prime "session"),
their messages (a per-thread sequence), versioned encrypted state, artifacts, and
metric points. Payloads (large message content, large states, artifact bytes) are rows
of `objects`; the referencing rows keep the object id.

Revision ID: 0008
"""

from alembic import op

from unison_shared.migration_helpers import enable_tenant_rls

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_TABLES = ("agent_metrics", "thread_artifacts", "thread_state_versions", "thread_messages",
           "threads")


def upgrade() -> None:
    # last_seq numbers messages and only grows; message_count is what the thread holds.
    # Both move in the statement that inserts a message, under the thread's row lock.
    op.execute("""
    CREATE TABLE threads (
        tenant_id     text        NOT NULL,
        id            text        NOT NULL,
        person_id     text        NOT NULL DEFAULT '',
        agent_name    text        NOT NULL,
        title         text,
        status        text        NOT NULL DEFAULT 'active'
                      CHECK (status IN ('active', 'paused', 'ended')),
        metadata      jsonb       NOT NULL DEFAULT '{}'::jsonb,
        message_count integer     NOT NULL DEFAULT 0 CHECK (message_count >= 0),
        last_seq      bigint      NOT NULL DEFAULT 0,
        state_version integer     NOT NULL DEFAULT 0,
        created_at    timestamptz NOT NULL DEFAULT now(),
        updated_at    timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, id)
    )""")
    op.execute("CREATE INDEX threads_person ON threads "
               "(tenant_id, person_id, created_at DESC, id DESC)")
    enable_tenant_rls(op.execute, "threads")

    op.execute("""
    CREATE TABLE thread_messages (
        tenant_id         text        NOT NULL,
        thread_id         text        NOT NULL,
        seq               bigint      NOT NULL,
        id                text        NOT NULL,
        person_id         text        NOT NULL DEFAULT '',
        role              text        NOT NULL
                          CHECK (role IN ('system', 'user', 'assistant', 'tool')),
        content           text,
        content_object_id text,
        content_bytes     integer     NOT NULL,
        parent_message_id text,
        metadata          jsonb       NOT NULL DEFAULT '{}'::jsonb,
        created_at        timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, thread_id, seq),
        UNIQUE (tenant_id, id),
        FOREIGN KEY (tenant_id, thread_id) REFERENCES threads (tenant_id, id)
            ON DELETE CASCADE,
        CHECK ((content IS NULL) <> (content_object_id IS NULL))
    )""")
    op.execute("CREATE INDEX thread_messages_object ON thread_messages "
               "(tenant_id, content_object_id) WHERE content_object_id IS NOT NULL")
    enable_tenant_rls(op.execute, "thread_messages")

    op.execute("""
    CREATE TABLE thread_state_versions (
        tenant_id   text        NOT NULL,
        thread_id   text        NOT NULL,
        version     integer     NOT NULL,
        person_id   text        NOT NULL DEFAULT '',
        dek_version integer     NOT NULL,
        ciphertext  bytea,
        object_id   text,
        size_bytes  integer     NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, thread_id, version),
        FOREIGN KEY (tenant_id, thread_id) REFERENCES threads (tenant_id, id)
            ON DELETE CASCADE,
        CHECK ((ciphertext IS NULL) <> (object_id IS NULL))
    )""")
    op.execute("COMMENT ON COLUMN thread_state_versions.ciphertext IS "
               "'AES-256-GCM under the tenant data key dek_version; AAD = tenant, person, "
               "thread, version; a large one is an object (object_id), sealed the same way'")
    op.execute("CREATE INDEX thread_state_object ON thread_state_versions "
               "(tenant_id, object_id) WHERE object_id IS NOT NULL")
    enable_tenant_rls(op.execute, "thread_state_versions")

    op.execute("""
    CREATE TABLE thread_artifacts (
        tenant_id    text        NOT NULL,
        id           text        NOT NULL,
        thread_id    text        NOT NULL,
        person_id    text        NOT NULL DEFAULT '',
        name         text        NOT NULL,
        type         text        NOT NULL,
        content_type text        NOT NULL DEFAULT 'application/octet-stream',
        size_bytes   bigint      NOT NULL CHECK (size_bytes >= 0),
        path         text        NOT NULL DEFAULT '',
        sha256       text,
        object_id    text,
        metadata     jsonb       NOT NULL DEFAULT '{}'::jsonb,
        created_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, id),
        FOREIGN KEY (tenant_id, thread_id) REFERENCES threads (tenant_id, id)
            ON DELETE CASCADE
    )""")
    op.execute("CREATE INDEX thread_artifacts_thread ON thread_artifacts "
               "(tenant_id, person_id, thread_id, created_at DESC, id DESC)")
    op.execute("CREATE INDEX thread_artifacts_person ON thread_artifacts "
               "(tenant_id, person_id, created_at DESC, id DESC)")
    op.execute("CREATE INDEX thread_artifacts_object ON thread_artifacts "
               "(tenant_id, object_id) WHERE object_id IS NOT NULL")
    enable_tenant_rls(op.execute, "thread_artifacts")

    # Points are not tied to a thread's lifetime: thread_id is a plain reference.
    op.execute("""
    CREATE TABLE agent_metrics (
        tenant_id   text             NOT NULL,
        id          text             NOT NULL,
        person_id   text             NOT NULL DEFAULT '',
        entity_type text             NOT NULL,
        entity_name text             NOT NULL,
        thread_id   text,
        metric_name text             NOT NULL,
        value       double precision NOT NULL,
        labels      jsonb            NOT NULL DEFAULT '{}'::jsonb,
        ts          timestamptz      NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, id)
    )""")
    # Time-range scans per (tenant, entity, metric); the second serves queries that name
    # only a metric or only a time range.
    op.execute("CREATE INDEX agent_metrics_series ON agent_metrics "
               "(tenant_id, person_id, entity_type, entity_name, metric_name, ts DESC)")
    op.execute("CREATE INDEX agent_metrics_time ON agent_metrics "
               "(tenant_id, person_id, ts DESC, id DESC)")
    enable_tenant_rls(op.execute, "agent_metrics")


def downgrade() -> None:
    for table in _TABLES:
        op.execute(f"DROP TABLE {table}")
