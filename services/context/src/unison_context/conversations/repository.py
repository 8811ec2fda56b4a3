"""SQL for conversation_sessions and conversation_messages. Message sequence numbers come
from the session row (`next_seq`), so concurrent appends to one session serialise on it.

Content is written sealed only (`sealed`, `response_sealed`, `summary_sealed`, each with
its data key version); the plaintext columns (`body`, `response`, `summary`) are read for
rows written before revision 0002 and cleared whenever the sealed value is written."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg


@dataclass(frozen=True)
class Sealed:
    blob: bytes
    dek_version: int


@dataclass(frozen=True)
class SessionRow:
    """As stored: `response`/`summary` are a legacy row's plaintext (None once sealed)."""

    session_id: str
    response: Any
    summary: str | None
    response_sealed: bytes | None
    response_dek_version: int | None
    summary_sealed: bytes | None
    summary_dek_version: int | None
    message_count: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class MessageRow:
    """As stored: `body` is a legacy row's plaintext (None once sealed)."""

    seq: int
    body: Any
    sealed: bytes | None
    dek_version: int | None
    created_at: datetime


@dataclass(frozen=True)
class Appended:
    seq: int
    created_at: datetime


_SESSION = ("session_id, response, summary, response_sealed, response_dek_version, "
            "summary_sealed, summary_dek_version, next_seq - 1, created_at, updated_at")
_MESSAGE = "seq, body, sealed, dek_version, created_at"
_SCOPE = "tenant_id = $1 AND person_id = $2"


async def ensure_session(pg: asyncpg.Connection, tenant: str, person: str, sid: str) -> None:
    await pg.execute(
        "INSERT INTO conversation_sessions (tenant_id, person_id, session_id) "
        "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", tenant, person, sid)


def _parts(value: Sealed | None) -> tuple[bytes | None, int | None]:
    return (value.blob, value.dek_version) if value is not None else (None, None)


async def set_state(pg: asyncpg.Connection, tenant: str, person: str, sid: str,
                    set_response: bool, response: Sealed | None, set_summary: bool,
                    summary: Sealed | None, at: datetime | None = None) -> SessionRow | None:
    """Set the sealed response and/or summary (None clears it); a field that is set
    loses its legacy plaintext."""
    row = await pg.fetchrow(
        "UPDATE conversation_sessions SET "
        "response = CASE WHEN $4 THEN NULL ELSE response END, "
        "response_sealed = CASE WHEN $4 THEN $5::bytea ELSE response_sealed END, "
        "response_dek_version = CASE WHEN $4 THEN $6::integer ELSE response_dek_version END, "
        "summary = CASE WHEN $7 THEN NULL ELSE summary END, "
        "summary_sealed = CASE WHEN $7 THEN $8::bytea ELSE summary_sealed END, "
        "summary_dek_version = CASE WHEN $7 THEN $9::integer ELSE summary_dek_version END, "
        "updated_at = coalesce($10, now()) "
        f"WHERE {_SCOPE} AND session_id = $3 RETURNING {_SESSION}",
        tenant, person, sid, set_response, *_parts(response), set_summary, *_parts(summary),
        at)
    return SessionRow(*row.values()) if row else None


async def allocate(pg: asyncpg.Connection, tenant: str, person: str, sid: str,
                   count: int) -> int:
    """Reserve `count` sequence numbers; returns the first."""
    first: int = await pg.fetchval(
        "UPDATE conversation_sessions SET next_seq = next_seq + $4, updated_at = now() "
        f"WHERE {_SCOPE} AND session_id = $3 RETURNING next_seq - $4",
        tenant, person, sid, count)
    return first


async def append(pg: asyncpg.Connection, tenant: str, person: str, sid: str,
                 bodies: list[Sealed], max_messages: int) -> list[Appended] | None:
    """Create the session if needed, reserve sequence numbers on its row and insert the
    sealed messages: one statement, so it runs in autocommit. In the order given; None
    when the session would hold more than `max_messages` (nothing is written)."""
    rows = await pg.fetch(
        "WITH s AS (INSERT INTO conversation_sessions AS cs (tenant_id, person_id, "
        "session_id, next_seq) VALUES ($1, $2, $3, 1 + $4) "
        "ON CONFLICT (tenant_id, person_id, session_id) DO UPDATE SET "
        "next_seq = cs.next_seq + $4, updated_at = now() "
        "WHERE cs.next_seq - 1 + $4 <= $6 RETURNING next_seq - $4 AS first) "
        "INSERT INTO conversation_messages (tenant_id, person_id, session_id, seq, sealed, "
        "dek_version) SELECT $1, $2, $3, s.first + u.n - 1, u.b, u.d FROM s, "
        "unnest($5::bytea[], $7::integer[]) WITH ORDINALITY AS u(b, d, n) "
        "RETURNING seq, created_at",
        tenant, person, sid, len(bodies), [b.blob for b in bodies], max_messages,
        [b.dek_version for b in bodies])
    if not rows:
        return None
    return sorted((Appended(*r.values()) for r in rows), key=lambda m: m.seq)


async def clear_messages(pg: asyncpg.Connection, tenant: str, person: str, sid: str) -> None:
    await pg.execute(f"DELETE FROM conversation_messages WHERE {_SCOPE} AND session_id = $3",
                     tenant, person, sid)
    await pg.execute("UPDATE conversation_sessions SET next_seq = 1 "
                     f"WHERE {_SCOPE} AND session_id = $3", tenant, person, sid)


async def insert_messages(pg: asyncpg.Connection, tenant: str, person: str, sid: str,
                          first_seq: int, bodies: list[Sealed]) -> None:
    seqs = list(range(first_seq, first_seq + len(bodies)))
    await pg.execute(
        "INSERT INTO conversation_messages (tenant_id, person_id, session_id, seq, sealed, "
        "dek_version) SELECT $1, $2, $3, s, b, d "
        "FROM unnest($4::bigint[], $5::bytea[], $6::integer[]) AS u(s, b, d)",
        tenant, person, sid, seqs, [b.blob for b in bodies], [b.dek_version for b in bodies])


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
        f"SELECT {_MESSAGE} FROM conversation_messages "
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

