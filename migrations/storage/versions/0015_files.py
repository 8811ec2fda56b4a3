"""Path-addressed files: a person's path names the object holding its latest content.

`path` compares byte-wise (`COLLATE "C"`), so listings page in the same order on every
database. The object is referenced by a foreign key that cascades: deleting the object
through /v1/objects removes the path too, and an overwrite or a path delete releases the
old object only when no record references it (threads/payloads.py).

Revision ID: 0015
"""

from alembic import op

from unison_shared.migration_helpers import enable_tenant_rls

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE files (
        tenant_id  text                NOT NULL,
        person_id  text                NOT NULL,
        path       text COLLATE "C"    NOT NULL
                   CHECK (octet_length(path) BETWEEN 1 AND 1024),
        object_id  text                NOT NULL,
        created_at timestamptz         NOT NULL DEFAULT now(),
        updated_at timestamptz         NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, person_id, path),
        FOREIGN KEY (tenant_id, object_id) REFERENCES objects (tenant_id, id)
            ON DELETE CASCADE
    )""")
    op.execute("CREATE INDEX files_object ON files (tenant_id, object_id)")
    enable_tenant_rls(op.execute, "files")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS files")
