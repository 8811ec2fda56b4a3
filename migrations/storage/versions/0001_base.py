"""Base: the tenant-visibility function that every row-level security policy uses.

Revision ID: 0001
"""

from alembic import op

from unison_shared.migration_helpers import TENANT_VISIBLE_FN

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(TENANT_VISIBLE_FN)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS app_tenant_visible(text)")
