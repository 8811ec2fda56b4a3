"""SQL for thread_state_versions. `threads.state_version` numbers the versions and only
grows; a write moves it in the statement that locks the thread, which is also where
If-Match is checked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

_SCOPE = "tenant_id = $1 AND person_id = $2"
_OUT = ("s.version, s.dek_version, s.ciphertext, s.object_id, o.storage_key, s.size_bytes, "
        "s.created_at")
_FROM = ("FROM thread_state_versions s LEFT JOIN objects o "
         "ON o.tenant_id = s.tenant_id AND o.id = s.object_id "
         "WHERE s.tenant_id = $1 AND s.person_id = $2 AND s.thread_id = $3")


@dataclass(frozen=True)
class SealedRow:
    version: int
    dek_version: int
    ciphertext: bytes | None
    object_id: str | None
    storage_key: str | None
    size_bytes: int
    created_at: datetime


async def next_version(pg: asyncpg.Connection, tenant: str, person: str, thread_id: str,
                       expected: int | None) -> int | None:
    """Lock the thread and take the next version if the current one is `expected` (any
    when None); None when the thread is missing or the expectation failed."""
    version: int | None = await pg.fetchval(
        "UPDATE threads SET state_version = state_version + 1, updated_at = now() "
        f"WHERE {_SCOPE} AND id = $3 AND ($4::integer IS NULL OR state_version = $4) "
        "RETURNING state_version", tenant, person, thread_id, expected)
    return version


async def current_version(pg: asyncpg.Connection, tenant: str, person: str,
                          thread_id: str) -> int | None:
    version: int | None = await pg.fetchval(
        f"SELECT state_version FROM threads WHERE {_SCOPE} AND id = $3",
        tenant, person, thread_id)
    return version


async def insert(pg: asyncpg.Connection, tenant: str, person: str, thread_id: str,
                 version: int, dek_version: int, ciphertext: bytes | None,
                 object_id: str | None, size: int) -> datetime:
    at: datetime = await pg.fetchval(
        "INSERT INTO thread_state_versions (tenant_id, person_id, thread_id, version, "
        "dek_version, ciphertext, object_id, size_bytes, created_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, clock_timestamp()) RETURNING created_at",
        tenant, person, thread_id, version, dek_version, ciphertext, object_id, size)
    return at


async def prune(pg: asyncpg.Connection, tenant: str, thread_id: str, keep: int) -> set[str]:
    """Drop all but the newest `keep` versions; the objects they referenced."""
    records = await pg.fetch(
        "DELETE FROM thread_state_versions WHERE tenant_id = $1 AND thread_id = $2 "
        "AND version IN (SELECT version FROM thread_state_versions WHERE tenant_id = $1 "
        "AND thread_id = $2 ORDER BY version DESC OFFSET $3) RETURNING object_id",
        tenant, thread_id, keep)
    return {r[0] for r in records if r[0] is not None}


async def latest(pg: asyncpg.Connection, tenant: str, person: str,
                 thread_id: str) -> SealedRow | None:
    record = await pg.fetchrow(f"SELECT {_OUT} {_FROM} ORDER BY s.version DESC LIMIT 1",
                               tenant, person, thread_id)
    return SealedRow(*record.values()) if record else None


async def get(pg: asyncpg.Connection, tenant: str, person: str, thread_id: str,
              version: int) -> SealedRow | None:
    record = await pg.fetchrow(f"SELECT {_OUT} {_FROM} AND s.version = $4",
                               tenant, person, thread_id, version)
    return SealedRow(*record.values()) if record else None


async def versions(pg: asyncpg.Connection, tenant: str, person: str,
                   thread_id: str) -> list[SealedRow]:
    records = await pg.fetch(
        f"SELECT s.version, s.dek_version, NULL::bytea, s.object_id, NULL::text, "
        f"s.size_bytes, s.created_at {_FROM} ORDER BY s.version DESC",
        tenant, person, thread_id)
    return [SealedRow(*r.values()) for r in records]


async def delete_all(pg: asyncpg.Connection, tenant: str, person: str,
                     thread_id: str) -> tuple[int, set[str]] | None:
    """Every version of the thread's state; None when the caller has no thread."""
    if await pg.fetchval(f"SELECT 1 FROM threads WHERE {_SCOPE} AND id = $3 FOR UPDATE",
                         tenant, person, thread_id) is None:
        return None
    records = await pg.fetch("DELETE FROM thread_state_versions WHERE tenant_id = $1 "
                             "AND thread_id = $2 RETURNING object_id", tenant, thread_id)
    return len(records), {r[0] for r in records if r[0] is not None}
