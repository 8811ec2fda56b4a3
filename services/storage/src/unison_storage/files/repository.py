"""SQL for `files`: (tenant, person, path) -> the object holding the latest content."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

SCOPE = "f.tenant_id = $1 AND f.person_id = $2"
COLS = ("f.path, f.object_id, o.size_bytes, o.content_type, o.sha256, f.created_at, "
        "f.updated_at")
FROM = "files f JOIN objects o ON o.tenant_id = f.tenant_id AND o.id = f.object_id"


@dataclass(frozen=True)
class FileRow:
    path: str
    object_id: str
    size_bytes: int
    content_type: str
    sha256: str
    created_at: datetime
    updated_at: datetime


async def lock_path(pg: asyncpg.Connection, tenant: str, person: str, path: str) -> None:
    """Serialises writers of one path until the transaction ends (the row may not exist
    yet, so a row lock cannot)."""
    await pg.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                     f"files:{len(tenant)}:{tenant}:{len(person)}:{person}:{path}")


async def object_of(pg: asyncpg.Connection, tenant: str, person: str,
                    path: str) -> str | None:
    value = await pg.fetchval("SELECT object_id FROM files WHERE tenant_id = $1 "
                              "AND person_id = $2 AND path = $3", tenant, person, path)
    return None if value is None else str(value)


async def put(pg: asyncpg.Connection, tenant: str, person: str, path: str,
              object_id: str) -> FileRow:
    await pg.execute(
        "INSERT INTO files (tenant_id, person_id, path, object_id) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (tenant_id, person_id, path) DO UPDATE "
        "SET object_id = excluded.object_id, updated_at = now()",
        tenant, person, path, object_id)
    row = await get(pg, tenant, person, path)
    assert row is not None
    return row


async def get(pg: asyncpg.Connection, tenant: str, person: str,
              path: str) -> FileRow | None:
    row = await pg.fetchrow(f"SELECT {COLS} FROM {FROM} WHERE {SCOPE} AND f.path = $3",
                            tenant, person, path)
    return FileRow(*row.values()) if row else None


async def delete(pg: asyncpg.Connection, tenant: str, person: str,
                 path: str) -> str | None:
    """Deletes the mapping; the object it named (to release), None when absent."""
    value = await pg.fetchval("DELETE FROM files WHERE tenant_id = $1 AND person_id = $2 "
                              "AND path = $3 RETURNING object_id", tenant, person, path)
    return None if value is None else str(value)


async def scan(pg: asyncpg.Connection, tenant: str, person: str, lower: str,
               upper: str | None, limit: int) -> list[FileRow]:
    """Up to `limit` files with lower <= path < upper, in byte order of their paths."""
    rows = await pg.fetch(
        f"SELECT {COLS} FROM {FROM} WHERE {SCOPE} AND f.path >= $3 "
        "AND ($4::text IS NULL OR f.path < $4) ORDER BY f.path LIMIT $5",
        tenant, person, lower, upper, limit)
    return [FileRow(*r.values()) for r in rows]
