"""Conversation content sealed under the person's data key, like profiles and KV.

A message's whole JSON (role, content, metadata, anything else it carries) goes to
`conversation_messages.sealed`, a session's latest response and summary to
`conversation_sessions.response_sealed` / `summary_sealed`, each AES-256-GCM under the
person's data key of the version in the matching `*dek_version` column (AAD: tenant,
kind, person, session id). Erasing the person destroys the key, so a backup's copy no
longer opens (crypto-shredding).

This revision runs as the owner, without the KEK: it cannot encrypt. It only adds the
columns and lets the plaintext ones (`body`, `response`, `summary`) be NULL; the service
seals every new write and still reads rows written before, and
`unison-context seal-conversations` (the system role and the KEK keyring) seals those
and clears their plaintext (docs/context.md, Runbook).

Revision ID: 0002
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE conversation_messages ALTER COLUMN body DROP NOT NULL, "
               "ADD COLUMN sealed bytea, ADD COLUMN dek_version integer")
    op.execute("ALTER TABLE conversation_messages ADD CONSTRAINT conversation_messages_stored "
               "CHECK ((body IS NOT NULL OR sealed IS NOT NULL) "
               "AND (sealed IS NULL) = (dek_version IS NULL))")
    op.execute("ALTER TABLE conversation_sessions ADD COLUMN response_sealed bytea, "
               "ADD COLUMN response_dek_version integer, ADD COLUMN summary_sealed bytea, "
               "ADD COLUMN summary_dek_version integer")
    op.execute("ALTER TABLE conversation_sessions ADD CONSTRAINT conversation_sessions_sealed "
               "CHECK ((response_sealed IS NULL) = (response_dek_version IS NULL) "
               "AND (summary_sealed IS NULL) = (summary_dek_version IS NULL))")
    for table, column, meaning in (
            ("conversation_messages", "body",
             "legacy plaintext message; NULL once sealed (seal-conversations)"),
            ("conversation_messages", "sealed",
             "the message JSON, AES-256-GCM under the person's data key of dek_version"),
            ("conversation_sessions", "response",
             "legacy plaintext latest response; NULL once sealed"),
            ("conversation_sessions", "summary", "legacy plaintext summary; NULL once sealed"),
            ("conversation_sessions", "response_sealed",
             "the latest response JSON, sealed under the person's data key"),
            ("conversation_sessions", "summary_sealed",
             "the summary text, sealed under the person's data key")):
        quoted = meaning.replace("'", "''")
        op.execute(f"COMMENT ON COLUMN {table}.{column} IS '{quoted}'")


def downgrade() -> None:
    # Sealed content cannot be opened here (no KEK): refuse rather than drop it. The
    # owner sees rows only with row-level security lifted (FORCE applies it to the owner
    # too); it is put back before the end of this transaction.
    for table in ("conversation_messages", "conversation_sessions"):
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute("""
    DO $$ BEGIN
      IF EXISTS (SELECT 1 FROM conversation_messages WHERE sealed IS NOT NULL)
         OR EXISTS (SELECT 1 FROM conversation_sessions
                    WHERE response_sealed IS NOT NULL OR summary_sealed IS NOT NULL) THEN
        RAISE EXCEPTION 'sealed conversation content exists: a downgrade would lose it';
      END IF;
    END $$""")
    for table in ("conversation_messages", "conversation_sessions"):
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE conversation_sessions DROP CONSTRAINT conversation_sessions_sealed, "
               "DROP COLUMN response_sealed, DROP COLUMN response_dek_version, "
               "DROP COLUMN summary_sealed, DROP COLUMN summary_dek_version")
    op.execute("ALTER TABLE conversation_messages DROP CONSTRAINT conversation_messages_stored, "
               "DROP COLUMN sealed, DROP COLUMN dek_version, ALTER COLUMN body SET NOT NULL")
