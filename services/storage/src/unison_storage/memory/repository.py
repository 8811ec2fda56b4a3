"""SQL for memory_entries (filled in by the memory domain)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


async def sweep_expired(conn: AsyncConnection, batch: int) -> int:
    result = await conn.execute(text(
        "DELETE FROM memory_entries WHERE ctid IN (SELECT ctid FROM memory_entries "
        "WHERE expires_at <= now() LIMIT :b FOR UPDATE SKIP LOCKED)"), {"b": batch})
    return int(result.rowcount or 0)
