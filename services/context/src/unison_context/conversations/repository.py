"""SQL for conversation_sessions and conversation_messages. Message sequence numbers come
from the session row (`next_seq`), so concurrent appends to one session serialise on it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg


@dataclass(frozen=True)
class SessionRow:
    session_id: str
    response: Any
    summary: str | None
    message_count: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class MessageRow:
    seq: int
    body: Any
    created_at: datetime


_SESSION = "session_id, response, summary, next_seq - 1, created_at, updated_at"
_SCOPE = "tenant_id = $1 AND person_id = $2"


async def ensure_session(pg: asyncpg.Connection, tenant: str, person: str, sid: str) -> None:
    await pg.execute(
        "INSERT INTO conversation_sessions (tenant_id, person_id, session_id) "
        "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", tenant, person, sid)


async def set_state(pg: asyncpg.Connection, tenant: str, person: str, sid: str,
                    set_response: bool, response_json: str | None, set_summary: bool,
                    summary: str | None, at: datetime | None = None) -> SessionRow | None:
    row = await pg.fetchrow(
        "UPDATE conversation_sessions SET "
        "response = CASE WHEN $4 THEN $5::jsonb ELSE response END, "
        "summary = CASE WHEN $6 THEN $7 ELSE summary END, updated_at = coalesce($8, now()) "
        f"WHERE {_SCOPE} AND session_id = $3 RETURNING {_SESSION}",
        tenant, person, sid, set_response, response_json, set_summary, summary, at)
    return SessionRow(*row.values()) if row else None


async def allocate(pg: asyncpg.Connection, tenant: str, person: str, sid: str,
                   count: int) -> int:
    """Reserve `count` sequence numbers; returns the first."""
    first: int = await pg.fetchval(
        "UPDATE conversation_sessions SET next_seq = next_seq + $4, updated_at = now() "
        f"WHERE {_SCOPE} AND session_id = $3 RETURNING next_seq - $4",
        tenant, person, sid, count)
    return first


async def append(pg: asyncpg.Connection, tenant: str, person: str, sid: str, bodies: list[str],
                 max_messages: int) -> list[MessageRow] | None:
    """Create the session if needed, reserve sequence numbers on its row and insert the
    messages: one statement, so it runs in autocommit. None when the session would hold
    more than `max_messages` (nothing is written)."""
    rows = await pg.fetch(
        "WITH s AS (INSERT INTO conversation_sessions AS cs (tenant_id, person_id, "
        "session_id, next_seq) VALUES ($1, $2, $3, 1 + $4) "
        "ON CONFLICT (tenant_id, person_id, session_id) DO UPDATE SET "
        "next_seq = cs.next_seq + $4, updated_at = now() "
        "WHERE cs.next_seq - 1 + $4 <= $6 RETURNING next_seq - $4 AS first) "
        "INSERT INTO conversation_messages (tenant_id, person_id, session_id, seq, body) "
        "SELECT $1, $2, $3, s.first + u.n - 1, u.b::jsonb FROM s, "
        "unnest($5::text[]) WITH ORDINALITY AS u(b, n) RETURNING seq, body, created_at",
        tenant, person, sid, len(bodies), bodies, max_messages)
    if not rows:
        return None
    return sorted((MessageRow(*r.values()) for r in rows), key=lambda m: m.seq)


async def clear_messages(pg: asyncpg.Connection, tenant: str, person: str, sid: str) -> None:
    await pg.execute(f"DELETE FROM conversation_messages WHERE {_SCOPE} AND session_id = $3",
                     tenant, person, sid)
    await pg.execute("UPDATE conversation_sessions SET next_seq = 1 "
                     f"WHERE {_SCOPE} AND session_id = $3", tenant, person, sid)


async def insert_messages(pg: asyncpg.Connection, tenant: str, person: str, sid: str,
                          first_seq: int, bodies: list[str]) -> list[MessageRow]:
    seqs = list(range(first_seq, first_seq + len(bodies)))
    rows = await pg.fetch(
        "INSERT INTO conversation_messages (tenant_id, person_id, session_id, seq, body) "
        "SELECT $1, $2, $3, s, b::jsonb FROM unnest($4::bigint[], $5::text[]) AS u(s, b) "
        "RETURNING seq, body, created_at", tenant, person, sid, seqs, bodies)
    return sorted((MessageRow(*r.values()) for r in rows), key=lambda m: m.seq)


async def get_session(pg: asyncpg.Connection, tenant: str, person: str,
                      sid: str) -> SessionRow | None:
    row = await pg.fetchrow(
        f"SELECT {_SESSION} FROM conversation_sessions WHERE {_SCOPE} AND session_id = $3",
        tenant, person, sid)
    return SessionRow(*row.values()) if row else None


async def list_sessions(pg: asyncpg.Connection, tenant: str, person: str,
                        after: tuple[datetime, str] | None, limit: int) -> list[SessionRow]:
    at, sid = after if after else (None, "")
    rows = await pg.fetch(
        f"SELECT {_SESSION} FROM conversation_sessions WHERE {_SCOPE} "
        "AND ($3::timestamptz IS NULL OR (updated_at, session_id) < ($3, $4)) "
        "ORDER BY updated_at DESC, session_id DESC LIMIT $5", tenant, person, at, sid, limit)
    return [SessionRow(*r.values()) for r in rows]


async def list_messages(pg: asyncpg.Connection, tenant: str, person: str, sid: str,
                        cursor: int | None, newest_first: bool, limit: int) -> list[MessageRow]:
    if newest_first:
        sql = ("AND ($4::bigint IS NULL OR seq < $4) ORDER BY seq DESC")
    else:
        sql = ("AND ($4::bigint IS NULL OR seq > $4) ORDER BY seq")
    rows = await pg.fetch(
        "SELECT seq, body, created_at FROM conversation_messages "
        f"WHERE {_SCOPE} AND session_id = $3 {sql} LIMIT $5",
        tenant, person, sid, cursor, limit)
    return [MessageRow(*r.values()) for r in rows]


async def delete_session(pg: asyncpg.Connection, tenant: str, person: str, sid: str) -> bool:
    done = await pg.fetchval(
        f"DELETE FROM conversation_sessions WHERE {_SCOPE} AND session_id = $3 RETURNING 1",
        tenant, person, sid)
    return done is not None


async def delete_all(pg: asyncpg.Connection, tenant: str, person: str) -> int:
    status: str = await pg.execute(f"DELETE FROM conversation_sessions WHERE {_SCOPE}",
                                   tenant, person)
    return int(status.split()[-1])
