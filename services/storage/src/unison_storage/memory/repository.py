"""SQL for memory_entries. Every read filters `expires_at > now()`: an expired entry is
never returned, whether or not the sweeper has deleted it yet."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True)
class MemoryRow:
    id: int
    session_id: str
    key: str | None
    keyspace: str
    payload: Any
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class Scope:
    tenant: str
    person: str
    session: str

    def params(self, **more: Any) -> dict[str, Any]:
        return {"t": self.tenant, "p": self.person, "s": self.session, **more}


_COLS = "id, session_id, key, keyspace, payload, created_at, expires_at"
_LIVE = "expires_at > now()"
_SCOPE = "tenant_id = :t AND person_id = :p AND session_id = :s"
_VALUES = ("(:t, :p, :s, :k, :ks, CAST(:v AS jsonb), now(), "
           "now() + make_interval(secs => CAST(:ttl AS integer)))")
_INSERT = ("INSERT INTO memory_entries AS cur (tenant_id, person_id, session_id, key, keyspace, "
           f"payload, created_at, expires_at) VALUES {_VALUES}")


async def write(conn: AsyncConnection, scope: Scope, key: str | None, keyspace: str,
                payload_json: str, ttl: int) -> MemoryRow:
    """Insert an entry; a keyed one replaces the session's entry with that key and takes
    a fresh id, so the replacement is the session's latest entry."""
    upsert = ("" if key is None else
              " ON CONFLICT (tenant_id, person_id, session_id, key) WHERE key IS NOT NULL "
              "DO UPDATE SET id = DEFAULT, keyspace = EXCLUDED.keyspace, "
              "payload = EXCLUDED.payload, created_at = EXCLUDED.created_at, "
              "expires_at = EXCLUDED.expires_at")
    row = (await conn.execute(text(f"{_INSERT}{upsert} RETURNING {_COLS}"),
                              scope.params(k=key, ks=keyspace, v=payload_json, ttl=ttl))).one()
    return MemoryRow(*row)


async def latest(conn: AsyncConnection, scope: Scope) -> MemoryRow | None:
    row = (await conn.execute(text(
        f"SELECT {_COLS} FROM memory_entries WHERE {_SCOPE} AND {_LIVE} "
        "ORDER BY id DESC LIMIT 1"), scope.params())).first()
    return MemoryRow(*row) if row else None


async def has_expired(conn: AsyncConnection, scope: Scope) -> bool:
    """Whether the session still holds expired entries the sweeper has not removed."""
    return bool((await conn.execute(text(
        f"SELECT EXISTS (SELECT 1 FROM memory_entries WHERE {_SCOPE} "
        "AND expires_at <= now())"), scope.params())).scalar())


async def get(conn: AsyncConnection, scope: Scope, entry_id: int) -> MemoryRow | None:
    row = (await conn.execute(text(
        f"SELECT {_COLS} FROM memory_entries WHERE {_SCOPE} AND id = :id AND {_LIVE}"),
        scope.params(id=entry_id))).first()
    return MemoryRow(*row) if row else None


async def by_key(conn: AsyncConnection, scope: Scope, key: str) -> MemoryRow | None:
    row = (await conn.execute(text(
        f"SELECT {_COLS} FROM memory_entries WHERE {_SCOPE} AND key = :k AND {_LIVE}"),
        scope.params(k=key))).first()
    return MemoryRow(*row) if row else None


async def list_entries(conn: AsyncConnection, scope: Scope, before_id: int | None,
                       limit: int) -> list[MemoryRow]:
    cond = " AND id < :before" if before_id is not None else ""
    rows = (await conn.execute(text(
        f"SELECT {_COLS} FROM memory_entries WHERE {_SCOPE} AND {_LIVE}{cond} "
        "ORDER BY id DESC LIMIT :lim"), scope.params(before=before_id, lim=limit))).all()
    return [MemoryRow(*r) for r in rows]


async def delete_entry(conn: AsyncConnection, scope: Scope, entry_id: int) -> bool:
    result = await conn.execute(text(
        f"DELETE FROM memory_entries WHERE {_SCOPE} AND id = :id AND {_LIVE}"),
        scope.params(id=entry_id))
    return bool(result.rowcount)


async def delete_key(conn: AsyncConnection, scope: Scope, key: str) -> bool:
    result = await conn.execute(text(
        f"DELETE FROM memory_entries WHERE {_SCOPE} AND key = :k AND {_LIVE}"),
        scope.params(k=key))
    return bool(result.rowcount)


async def delete_session(conn: AsyncConnection, scope: Scope) -> int:
    """Remove every entry of the session, expired ones too; returns the live ones removed."""
    result = await conn.execute(text(
        f"WITH gone AS (DELETE FROM memory_entries WHERE {_SCOPE} RETURNING expires_at) "
        f"SELECT count(*) FILTER (WHERE {_LIVE}) FROM gone"), scope.params())
    return int(result.scalar() or 0)


async def sweep_expired(conn: AsyncConnection, batch: int) -> int:
    """One batch of the background sweep (runs in a system transaction). SKIP LOCKED lets
    several replicas sweep at once: each row is claimed, and deleted, by one of them."""
    result = await conn.execute(text(
        "DELETE FROM memory_entries WHERE id IN (SELECT id FROM memory_entries "
        "WHERE expires_at <= now() ORDER BY expires_at LIMIT :b FOR UPDATE SKIP LOCKED)"),
        {"b": batch})
    return int(result.rowcount or 0)
