"""SQL for retention policies (tenant scope) and the objects a maintenance batch frees."""

from __future__ import annotations

import asyncpg


async def tenant_policies(pg: asyncpg.Connection, tenant: str) -> dict[str, int]:
    rows = await pg.fetch("SELECT data_class, days FROM retention_policies "
                          "WHERE tenant_id = $1", tenant)
    return {r[0]: r[1] for r in rows}


async def set_policies(pg: asyncpg.Connection, tenant: str,
                       changes: dict[str, int | None]) -> None:
    """One statement: the classes given a number are set, those given null removed."""
    keep = {k: v for k, v in changes.items() if v is not None}
    await pg.execute(
        "WITH gone AS (DELETE FROM retention_policies WHERE tenant_id = $1 "
        "AND data_class = ANY($4::text[])) "
        "INSERT INTO retention_policies (tenant_id, data_class, days) "
        "SELECT $1, c, d FROM unnest($2::text[], $3::integer[]) AS x(c, d) "
        "ON CONFLICT (tenant_id, data_class) DO UPDATE SET days = EXCLUDED.days, "
        "updated_at = now()", tenant, list(keep), list(keep.values()),
        [k for k, v in changes.items() if v is None])


async def object_sizes(pg: asyncpg.Connection, tenant: str, ids: set[str]) -> dict[str, int]:
    rows = await pg.fetch("SELECT id, size_bytes FROM objects WHERE tenant_id = $1 "
                          "AND id = ANY($2::text[])", tenant, sorted(ids))
    return {r[0]: r[1] for r in rows}
