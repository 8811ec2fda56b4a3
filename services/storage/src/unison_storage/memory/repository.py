"""SQL for memory_entries. Every read filters `expires_at > now()`: an expired entry is
never returned, whether or not the sweeper has deleted it yet.

Memory is a hot path: each operation is one statement on the asyncpg connection in
autocommit (`Database.statement`), like KV. The sweeper stays on SQLAlchemy.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from .schemas import MemoryEntry


@dataclass(frozen=True)
class Scope:
    tenant: str
    person: str
    session: str

    def args(self) -> tuple[str, str, str]:
        return self.tenant, self.person, self.session


def _row(record: asyncpg.Record) -> MemoryEntry:
    # The selected columns are exactly the API's entry: no row type in between.
    return MemoryEntry(**record)


_COLS = "id, session_id, key, keyspace, payload, created_at, expires_at"
_LIVE = "expires_at > now()"
# $1 tenant, $2 person, $3 session in every statement below.
_SCOPE = "tenant_id = $1 AND person_id = $2 AND session_id = $3"
# Ids come from the tenant's own counter (migration 0011), so they reveal nothing of
# other tenants' writes.
_INSERT = ("INSERT INTO memory_entries AS cur (id, tenant_id, person_id, session_id, key, "
           "keyspace, payload, created_at, expires_at) VALUES (memory_next_id($1), $1, $2, "
           "$3, $4, $5, $6::jsonb, now(), now() + make_interval(secs => $7::integer))")
_WRITE = f"{_INSERT} RETURNING {_COLS}"
_WRITE_KEYED = (f"{_INSERT} ON CONFLICT (tenant_id, person_id, session_id, key) "
                "WHERE key IS NOT NULL DO UPDATE SET id = EXCLUDED.id, "
                "keyspace = EXCLUDED.keyspace, payload = EXCLUDED.payload, "
                "created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at "
                f"RETURNING {_COLS}")
_SELECT = f"SELECT {_COLS} FROM memory_entries WHERE {_SCOPE} AND {_LIVE}"


async def write(pg: asyncpg.Connection, scope: Scope, key: str | None, keyspace: str,
                payload_json: str, ttl: int) -> MemoryEntry:
    """Insert an entry; a keyed one replaces the session's entry with that key and takes
    a fresh id, so the replacement is the session's latest entry."""
    sql = _WRITE if key is None else _WRITE_KEYED
    return _row(await pg.fetchrow(sql, *scope.args(), key, keyspace, payload_json, ttl))


async def latest(pg: asyncpg.Connection, scope: Scope) -> MemoryEntry | None:
    record = await pg.fetchrow(f"{_SELECT} ORDER BY id DESC LIMIT 1", *scope.args())
    return _row(record) if record else None


async def has_expired(pg: asyncpg.Connection, scope: Scope) -> bool:
    """Whether the session still holds expired entries the sweeper has not removed."""
    return bool(await pg.fetchval(
        f"SELECT EXISTS (SELECT 1 FROM memory_entries WHERE {_SCOPE} "
        "AND expires_at <= now())", *scope.args()))


async def get(pg: asyncpg.Connection, scope: Scope, entry_id: int) -> MemoryEntry | None:
    record = await pg.fetchrow(f"{_SELECT} AND id = $4", *scope.args(), entry_id)
    return _row(record) if record else None


async def by_key(pg: asyncpg.Connection, scope: Scope, key: str) -> MemoryEntry | None:
    record = await pg.fetchrow(f"{_SELECT} AND key = $4", *scope.args(), key)
    return _row(record) if record else None


async def list_entries(pg: asyncpg.Connection, scope: Scope, before_id: int | None,
                       limit: int) -> list[MemoryEntry]:
    records = await pg.fetch(
        f"{_SELECT} AND ($4::bigint IS NULL OR id < $4) ORDER BY id DESC LIMIT $5",
        *scope.args(), before_id, limit)
    return [_row(r) for r in records]


async def delete_entry(pg: asyncpg.Connection, scope: Scope, entry_id: int) -> bool:
    return await pg.fetchval(
        f"DELETE FROM memory_entries WHERE {_SCOPE} AND id = $4 AND {_LIVE} RETURNING 1",
        *scope.args(), entry_id) is not None


async def delete_key(pg: asyncpg.Connection, scope: Scope, key: str) -> bool:
    return await pg.fetchval(
        f"DELETE FROM memory_entries WHERE {_SCOPE} AND key = $4 AND {_LIVE} RETURNING 1",
        *scope.args(), key) is not None


async def delete_session(pg: asyncpg.Connection, scope: Scope) -> int:
    """Remove every entry of the session, expired ones too; returns the live ones removed."""
    return int(await pg.fetchval(
        f"WITH gone AS (DELETE FROM memory_entries WHERE {_SCOPE} RETURNING expires_at) "
        f"SELECT count(*) FILTER (WHERE {_LIVE}) FROM gone", *scope.args()) or 0)


async def sweep_expired(conn: AsyncConnection, batch: int) -> int:
    """One batch of the background sweep (runs in a system transaction). SKIP LOCKED lets
    several replicas sweep at once: each row is claimed, and deleted, by one of them."""
    # The batch is a MATERIALIZED CTE joined once: as an `IN (subquery)` the planner may
    # rescan the LIMIT subquery and delete several batches in one statement (seen here).
    result = await conn.execute(text(
        "WITH doomed AS MATERIALIZED (SELECT tenant_id, id FROM memory_entries "
        "WHERE expires_at <= now() ORDER BY expires_at LIMIT :b FOR UPDATE SKIP LOCKED) "
        "DELETE FROM memory_entries m USING doomed "
        "WHERE m.tenant_id = doomed.tenant_id AND m.id = doomed.id"), {"b": batch})
    return int(result.rowcount or 0)
