"""Memory entry ids per tenant: a tenant's ids no longer count other tenants' writes.

Before: one identity column for every tenant, so the gap between two of a tenant's own
ids told it how many entries every other tenant wrote in between. After: each tenant
draws its ids from its own counter (`memory_next_id`, a row of memory_id_counters under
the same row-level security), ids are unique per tenant, and still increase with each
write, which keeps "the latest entry" and the list order exactly as before.

Revision ID: 0011
"""

from alembic import op

from unison_shared.migration_helpers import enable_tenant_rls

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE memory_id_counters (
        tenant_id text   PRIMARY KEY,
        last_id   bigint NOT NULL
    )""")
    # Seed each tenant's counter above its existing ids. The owner sees every tenant's
    # rows only while row-level security is not forced on it: for this statement.
    op.execute("ALTER TABLE memory_entries NO FORCE ROW LEVEL SECURITY")
    op.execute("INSERT INTO memory_id_counters (tenant_id, last_id) "
               "SELECT tenant_id, max(id) FROM memory_entries GROUP BY tenant_id")
    op.execute("ALTER TABLE memory_entries FORCE ROW LEVEL SECURITY")
    enable_tenant_rls(op.execute, "memory_id_counters")
    op.execute("ALTER TABLE memory_entries ALTER COLUMN id DROP IDENTITY")
    op.execute("ALTER TABLE memory_entries DROP CONSTRAINT memory_entries_pkey")
    op.execute("ALTER TABLE memory_entries ADD PRIMARY KEY (tenant_id, id)")
    # SECURITY INVOKER: the counter row is the caller's tenant's, under its policy.
    op.execute("""
    CREATE FUNCTION memory_next_id(p_tenant text) RETURNS bigint
    LANGUAGE sql VOLATILE AS $$
      INSERT INTO memory_id_counters AS c (tenant_id, last_id) VALUES (p_tenant, 1)
      ON CONFLICT (tenant_id) DO UPDATE SET last_id = c.last_id + 1
      RETURNING c.last_id
    $$""")


def downgrade() -> None:
    raise NotImplementedError("0011 removes a cross-tenant leak; it is not undone")
