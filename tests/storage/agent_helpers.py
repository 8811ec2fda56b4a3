"""Helpers of the agent-runtime tests: a thread, and row counts read as the system."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

_TABLES = {"threads", "thread_messages", "thread_state_versions", "thread_artifacts",
           "agent_metrics", "objects"}


async def new_thread(client: Any, caller: Any, **body: Any) -> dict[str, Any]:
    r = await client.post("/v1/threads", json={"agent_name": "agent", **body},
                          headers=caller.headers)
    assert r.status_code == 201, r.text
    thread: dict[str, Any] = r.json()
    return thread


async def count_rows(db: Any, tenant: str, table: str, where: str = "true") -> int:
    """Rows of a tenant in a table, counted past row-level security."""
    assert table in _TABLES
    async with db.system() as conn:
        result = await conn.execute(
            text(f"SELECT count(*) FROM {table} WHERE tenant_id = :t AND {where}"),
            {"t": tenant})
        return int(result.scalar_one())
