"""A workflow's sealed context, when large, is an object of its own (sealed first, so
the object store never sees plaintext), like a large agent state.

Revision ID: 0018
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE workflows ADD COLUMN context_object_id text, "
               "ALTER COLUMN context_enc DROP NOT NULL, "
               "ADD CONSTRAINT workflows_context_one_place "
               "CHECK ((context_enc IS NULL) <> (context_object_id IS NULL))")


def downgrade() -> None:
    op.execute("DELETE FROM workflows WHERE context_enc IS NULL")
    op.execute("ALTER TABLE workflows DROP CONSTRAINT workflows_context_one_place, "
               "DROP COLUMN context_object_id, ALTER COLUMN context_enc SET NOT NULL")
