"""SQL for memory_entries on SQLite (development only): the same functions and meaning as
`repository` (PostgreSQL). Every statement names tenant AND person AND session: with no
row-level security on SQLite, that filter is the only tenant fence. Every read filters
`expires_at > now` ("now" from Python), so an expired entry is never returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from ..database import StatementConnection, sqlite_connection
from ..sqlite_values import loads, now, parse_ts, ts
from .repository import Scope
from .schemas import MemoryEntry

_COLS = "id, session_id, key, keyspace, payload, created_at, expires_at"
_LIVE = "expires_at > :now"
_SCOPE = "tenant_id = :t AND person_id = :p AND session_id = :s"
_SELECT = f"SELECT {_COLS} FROM memory_entries WHERE {_SCOPE} AND {_LIVE}"
_INSERT = text(f"""
    INSERT INTO memory_entries (tenant_id, person_id, session_id, key, keyspace, payload,
                                created_at, expires_at)
    VALUES (:t, :p, :s, :k, :ks, :payload, :now, :exp) RETURNING {_COLS}""")
# A keyed write replaces the session's entry with that key; deleting it first (same
# transaction) gives the replacement a fresh, larger id (AUTOINCREMENT never reuses one).
_DROP_KEYED = text(f"DELETE FROM memory_entries WHERE {_SCOPE} AND key = :k")
_LATEST = text(f"{_SELECT} ORDER BY id DESC LIMIT 1")
_HAS_EXPIRED = text(f"SELECT EXISTS (SELECT 1 FROM memory_entries WHERE {_SCOPE} "
                    "AND expires_at <= :now)")
_GET = text(f"{_SELECT} AND id = :id")
_BY_KEY = text(f"{_SELECT} AND key = :k")
_LIST = text(f"{_SELECT} AND (:before IS NULL OR id < :before) ORDER BY id DESC LIMIT :lim")
_DELETE_ENTRY = text(f"DELETE FROM memory_entries WHERE {_SCOPE} AND id = :id AND {_LIVE} "
                     "RETURNING 1")
_DELETE_KEY = text(f"DELETE FROM memory_entries WHERE {_SCOPE} AND key = :k AND {_LIVE} "
                   "RETURNING 1")
_DELETE_SESSION = text(f"DELETE FROM memory_entries WHERE {_SCOPE} RETURNING expires_at")
_SWEEP = text("DELETE FROM memory_entries WHERE id IN (SELECT id FROM memory_entries "
              "WHERE expires_at <= :now ORDER BY expires_at LIMIT :b)")


def _row(r: Sequence[Any]) -> MemoryEntry:
    return MemoryEntry(id=int(r[0]), session_id=r[1], key=r[2], keyspace=r[3],
                       payload=loads(r[4]), created_at=parse_ts(r[5]),
                       expires_at=parse_ts(r[6]))


def _params(conn: AsyncConnection, scope: Scope, **extra: Any) -> dict[str, Any]:
    return {"t": scope.tenant, "p": scope.person, "s": scope.session, "now": ts(now(conn)),
            **extra}


async def write(pg: StatementConnection, scope: Scope, key: str | None, keyspace: str,
                payload_json: str, ttl: int) -> MemoryEntry:
    """Insert an entry; a keyed one replaces the session's entry with that key and takes
    a fresh id, so the replacement is the session's latest entry."""
    conn = sqlite_connection(pg)
    at = now(conn)
    params = {**_params(conn, scope, k=key, ks=keyspace, payload=payload_json),
              "now": ts(at), "exp": ts(at + timedelta(seconds=ttl))}
    if key is not None:
        await conn.execute(_DROP_KEYED, params)
    return _row((await conn.execute(_INSERT, params)).one())


async def latest(pg: StatementConnection, scope: Scope) -> MemoryEntry | None:
    conn = sqlite_connection(pg)
    r = (await conn.execute(_LATEST, _params(conn, scope))).first()
    return _row(r) if r else None


async def has_expired(pg: StatementConnection, scope: Scope) -> bool:
    """Whether the session still holds expired entries the sweeper has not removed."""
    conn = sqlite_connection(pg)
    return bool((await conn.execute(_HAS_EXPIRED, _params(conn, scope))).scalar())


async def get(pg: StatementConnection, scope: Scope, entry_id: int) -> MemoryEntry | None:
    conn = sqlite_connection(pg)
    r = (await conn.execute(_GET, _params(conn, scope, id=entry_id))).first()
    return _row(r) if r else None


async def by_key(pg: StatementConnection, scope: Scope, key: str) -> MemoryEntry | None:
    conn = sqlite_connection(pg)
    r = (await conn.execute(_BY_KEY, _params(conn, scope, k=key))).first()
    return _row(r) if r else None


async def list_entries(pg: StatementConnection, scope: Scope, before_id: int | None,
                       limit: int) -> list[MemoryEntry]:
    conn = sqlite_connection(pg)
    rows = (await conn.execute(_LIST, _params(conn, scope, before=before_id,
                                              lim=limit))).all()
    return [_row(r) for r in rows]


async def delete_entry(pg: StatementConnection, scope: Scope, entry_id: int) -> bool:
    conn = sqlite_connection(pg)
    return (await conn.execute(_DELETE_ENTRY, _params(conn, scope, id=entry_id))
            ).first() is not None


async def delete_key(pg: StatementConnection, scope: Scope, key: str) -> bool:
    conn = sqlite_connection(pg)
    return (await conn.execute(_DELETE_KEY, _params(conn, scope, k=key))).first() is not None


async def delete_session(pg: StatementConnection, scope: Scope) -> int:
    """Remove every entry of the session, expired ones too; returns the live ones removed."""
    conn = sqlite_connection(pg)
    params = _params(conn, scope)
    gone = (await conn.execute(_DELETE_SESSION, params)).all()
    return sum(1 for (expires_at,) in gone if expires_at > params["now"])


async def sweep_expired(conn: AsyncConnection, batch: int) -> int:
    """One batch of the background sweep (a system transaction): oldest expiries first."""
    result = await conn.execute(_SWEEP, {"now": ts(now(conn)), "b": batch})
    return int(result.rowcount or 0)
