"""DDL helpers the Alembic migrations share."""

from __future__ import annotations

from collections.abc import Callable

TENANT_VISIBLE_FN = """
CREATE OR REPLACE FUNCTION app_tenant_visible(row_tenant text) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT row_tenant = current_setting('app.tenant_id', true)
      OR coalesce(current_setting('app.system', true), '') = 'on'
$$;
"""


def enable_tenant_rls(execute: Callable[[str], object], table: str) -> None:
    """Row-level security on `table`: a row is visible and writable only inside a
    transaction scoped to its tenant (FORCE applies it to the table owner too)."""
    execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    execute(
        f"CREATE POLICY {table}_tenant ON {table} "
        f"USING (app_tenant_visible(tenant_id)) WITH CHECK (app_tenant_visible(tenant_id))"
    )
