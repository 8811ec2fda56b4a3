"""The whole storage schema on SQLite (ENVIRONMENT=dev only), mirroring the PostgreSQL
revisions 0001-0006 table for table.

Types: JSON as TEXT (checked with json_valid), uuids as TEXT, bytea as BLOB, timestamps
as fixed-width ISO-8601 UTC TEXT (`YYYY-MM-DDTHH:MM:SS.ffffff`, see
unison_storage.sqlite_values), so text order is time order. STRICT tables refuse a value
of the wrong type. What SQLite cannot have is left out, not imitated: row-level security
(the repositories' explicit tenant filters are the only fence) and TRUNCATE (it has none).

Revision ID: 0001
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

NOW = "(strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000')"


def upgrade() -> None:
    op.execute(f"""
    CREATE TABLE kv_records (
        tenant_id   TEXT    NOT NULL,
        person_id   TEXT    NOT NULL DEFAULT '',
        namespace   TEXT    NOT NULL,
        key         TEXT    NOT NULL,
        value       TEXT    CHECK (value IS NULL OR json_valid(value)),
        value_enc   BLOB,
        dek_version INTEGER,
        version     INTEGER NOT NULL DEFAULT 1,
        expires_at  TEXT,
        created_at  TEXT    NOT NULL DEFAULT {NOW},
        updated_at  TEXT    NOT NULL DEFAULT {NOW},
        PRIMARY KEY (tenant_id, person_id, namespace, key),
        CHECK ((value IS NULL) <> (value_enc IS NULL))
    ) STRICT""")
    op.execute("CREATE INDEX kv_records_expiry ON kv_records (expires_at) "
               "WHERE expires_at IS NOT NULL")

    # AUTOINCREMENT: ids are never reused, so a keyed rewrite (delete + insert) always
    # takes an id above every earlier entry, as PostgreSQL's identity column does.
    op.execute(f"""
    CREATE TABLE memory_entries (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant_id   TEXT    NOT NULL,
        person_id   TEXT    NOT NULL DEFAULT '',
        session_id  TEXT    NOT NULL,
        key         TEXT,
        keyspace    TEXT    NOT NULL DEFAULT 'default',
        payload     TEXT    NOT NULL CHECK (json_valid(payload)),
        created_at  TEXT    NOT NULL DEFAULT {NOW},
        expires_at  TEXT    NOT NULL
    ) STRICT""")
    op.execute("CREATE INDEX memory_entries_session ON memory_entries "
               "(tenant_id, person_id, session_id, id DESC)")
    op.execute("CREATE UNIQUE INDEX memory_entries_key ON memory_entries "
               "(tenant_id, person_id, session_id, key) WHERE key IS NOT NULL")
    op.execute("CREATE INDEX memory_entries_expiry ON memory_entries (expires_at)")

    op.execute(f"""
    CREATE TABLE tenant_data_keys (
        tenant_id    TEXT    NOT NULL,
        version      INTEGER NOT NULL,
        kek_version  TEXT    NOT NULL,
        wrapped_key  BLOB    NOT NULL,
        created_at   TEXT    NOT NULL DEFAULT {NOW},
        rewrapped_at TEXT,
        PRIMARY KEY (tenant_id, version)
    ) STRICT""")
    op.execute(f"""
    CREATE TABLE vault_secrets (
        id              TEXT    PRIMARY KEY,
        tenant_id       TEXT    NOT NULL,
        person_id       TEXT    NOT NULL DEFAULT '',
        name            TEXT    NOT NULL,
        current_version INTEGER NOT NULL DEFAULT 0 CHECK (current_version >= 0),
        max_versions    INTEGER NOT NULL CHECK (max_versions >= 1),
        -- caller metadata: stored in plain text, must never hold secret material
        metadata        TEXT    NOT NULL DEFAULT '{{}}' CHECK (json_valid(metadata)),
        created_at      TEXT    NOT NULL DEFAULT {NOW},
        updated_at      TEXT    NOT NULL DEFAULT {NOW},
        deleted_at      TEXT,
        UNIQUE (tenant_id, person_id, name)
    ) STRICT""")
    op.execute(f"""
    CREATE TABLE vault_versions (
        tenant_id    TEXT    NOT NULL,
        secret_id    TEXT    NOT NULL REFERENCES vault_secrets(id) ON DELETE CASCADE,
        version      INTEGER NOT NULL,
        -- AES-256-GCM under the tenant data key dek_version; AAD = tenant, secret id,
        -- version; NULL once destroyed
        ciphertext   BLOB,
        dek_version  INTEGER NOT NULL,
        created_at   TEXT    NOT NULL DEFAULT {NOW},
        destroyed_at TEXT,
        PRIMARY KEY (secret_id, version),
        CHECK ((ciphertext IS NULL) = (destroyed_at IS NOT NULL))
    ) STRICT""")

    op.execute("""
    CREATE TABLE audit_events (
        tenant_id   TEXT    NOT NULL,
        seq         INTEGER NOT NULL,
        id          TEXT    NOT NULL,
        actor       TEXT,
        action      TEXT    NOT NULL,
        target      TEXT,
        decision_id TEXT,
        status      TEXT,
        person_id   TEXT,
        payload     TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(payload)),
        created_at  TEXT    NOT NULL,
        prev_hash   TEXT    NOT NULL,
        hash        TEXT    NOT NULL,
        PRIMARY KEY (tenant_id, seq),
        UNIQUE (tenant_id, id)
    ) STRICT""")
    op.execute("CREATE INDEX audit_events_time ON audit_events (tenant_id, created_at)")
    op.execute("CREATE INDEX audit_events_actor ON audit_events (tenant_id, actor, seq)")
    op.execute("CREATE INDEX audit_events_action ON audit_events (tenant_id, action, seq)")
    op.execute("CREATE INDEX audit_events_person ON audit_events (tenant_id, person_id, seq)")
    op.execute("""
    CREATE TABLE audit_heads (
        tenant_id TEXT    PRIMARY KEY,
        seq       INTEGER NOT NULL,
        hash      TEXT    NOT NULL
    ) STRICT""")
    # Append-only: any UPDATE or DELETE aborts its statement (SQLite has no TRUNCATE; a
    # DELETE without WHERE fires the trigger too, since triggers disable its shortcut).
    for verb in ("UPDATE", "DELETE"):
        op.execute(f"""
        CREATE TRIGGER audit_events_no_{verb.lower()} BEFORE {verb} ON audit_events
        BEGIN
            SELECT RAISE(ABORT, 'audit_events is append-only: {verb} is not allowed');
        END""")

    op.execute(f"""
    CREATE TABLE objects (
        tenant_id    TEXT    NOT NULL,
        id           TEXT    NOT NULL,
        person_id    TEXT    NOT NULL DEFAULT '',
        filename     TEXT,
        content_type TEXT    NOT NULL DEFAULT 'application/octet-stream',
        size_bytes   INTEGER NOT NULL CHECK (size_bytes >= 0),
        sha256       TEXT    NOT NULL
                     CHECK (length(sha256) = 64 AND sha256 NOT GLOB '*[^0-9a-f]*'),
        labels       TEXT    NOT NULL DEFAULT '{{}}' CHECK (json_valid(labels)),
        storage_key  TEXT    NOT NULL UNIQUE,
        created_at   TEXT    NOT NULL DEFAULT {NOW},
        PRIMARY KEY (tenant_id, id)
    ) STRICT""")
    # Serves the list (newest first, keyset on (created_at, id)) and the quota sum.
    op.execute("CREATE INDEX objects_person ON objects "
               "(tenant_id, person_id, created_at DESC, id DESC, size_bytes)")


def downgrade() -> None:
    for table in ("objects", "audit_heads", "audit_events", "vault_versions",
                  "vault_secrets", "tenant_data_keys", "memory_entries", "kv_records"):
        op.execute(f"DROP TABLE {table}")
