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


async def prune(pg: asyncpg.Connection, tenant: str, thread_id: str, version: int,
                keep: int) -> set[str]:
    """Drop the versions `keep` or more behind `version`; the objects they referenced."""
    records = await pg.fetch(
        "DELETE FROM thread_state_versions WHERE tenant_id = $1 AND thread_id = $2 "
        "AND version <= $3::integer - $4::integer RETURNING object_id", tenant, thread_id,
        version, keep)
    return {r[0] for r in records if r[0] is not None}


# One statement: move the thread from version $4 - 1 to $4 (the check-and-set), insert the
# sealed version and prune the old ones, or do nothing when the thread is not at $4 - 1.
_WRITE_INLINE = """
WITH t AS (UPDATE threads SET state_version = $4, updated_at = now()
           WHERE tenant_id = $1 AND person_id = $2 AND id = $3
             AND state_version = $4::integer - 1
           RETURNING 1),
     ins AS (INSERT INTO thread_state_versions (tenant_id, person_id, thread_id, version,
                                                dek_version, ciphertext, size_bytes, created_at)
             SELECT $1, $2, $3, $4, $5, $6, $7, clock_timestamp() FROM t
             RETURNING created_at),
     gone AS (DELETE FROM thread_state_versions WHERE tenant_id = $1 AND thread_id = $3
              AND version <= $4::integer - $8::integer AND EXISTS (SELECT 1 FROM t)
              RETURNING object_id)
SELECT (SELECT created_at FROM ins), ARRAY(SELECT object_id FROM gone
                                           WHERE object_id IS NOT NULL)
"""


async def write_inline(pg: asyncpg.Connection, tenant: str, person: str, thread_id: str,
                       version: int, dek_version: int, ciphertext: bytes,
                       keep: int) -> tuple[datetime, set[str]] | None:
    """Write `version` if the thread is at the one before it: (its time, the objects of
    the versions pruned), or None when the thread is missing or has moved on."""
    record = await pg.fetchrow(_WRITE_INLINE, tenant, person, thread_id, version, dek_version,
                               ciphertext, len(ciphertext), keep)
    if record is None or record[0] is None:
        return None
    return record[0], set(record[1])


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
