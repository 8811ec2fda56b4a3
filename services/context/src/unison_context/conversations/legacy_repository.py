"""SQL for the conversation content written before revision 0002 (plaintext), for
`unison-context seal-conversations`: a system job, on the system role's connection (it
sees every tenant), inside its transaction. Rows are walked in primary-key order (the
index), after the last one of the previous batch, and locked while they are sealed."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from .repository import Sealed


@dataclass(frozen=True)
class PlainMessage:
    tenant_id: str
    person_id: str
    session_id: str
    seq: int
    body: str  # the jsonb value's text


@dataclass(frozen=True)
class PlainSession:
    tenant_id: str
    person_id: str
    session_id: str
    response: str | None  # the jsonb value's text
    summary: str | None


async def count_plaintext(pg: asyncpg.Connection) -> tuple[int, int]:
    """(messages, sessions) still holding plaintext."""
    messages = await pg.fetchval(
        "SELECT count(*) FROM conversation_messages WHERE body IS NOT NULL")
    sessions = await pg.fetchval("SELECT count(*) FROM conversation_sessions "
                                 "WHERE response IS NOT NULL OR summary IS NOT NULL")
    return int(messages), int(sessions)


async def plaintext_messages(pg: asyncpg.Connection, after: tuple[str, str, str, int] | None,
                             limit: int) -> list[PlainMessage]:
    """The next plaintext messages in key order after `after`, locked."""
    t, p, s, q = after if after else (None, "", "", 0)
    rows = await pg.fetch(
        "SELECT tenant_id, person_id, session_id, seq, body::text "
        "FROM conversation_messages WHERE body IS NOT NULL AND ($1::text IS NULL OR "
        "(tenant_id, person_id, session_id, seq) > ($1, $2, $3, $4)) "
        "ORDER BY tenant_id, person_id, session_id, seq LIMIT $5 FOR UPDATE",
        t, p, s, q, limit)
    return [PlainMessage(*r.values()) for r in rows]


async def seal_messages(pg: asyncpg.Connection, rows: list[PlainMessage],
                        sealed: list[Sealed]) -> None:
    """Store each row's body sealed in place of its plaintext."""
    blobs = [s.blob for s in sealed]
    versions = [s.dek_version for s in sealed]
    await pg.execute(
        "UPDATE conversation_messages AS m SET body = NULL, sealed = u.b, dek_version = u.d "
        "FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bytea[], "
        "$6::integer[]) AS u(t, p, s, q, b, d) "
        "WHERE (m.tenant_id, m.person_id, m.session_id, m.seq) = (u.t, u.p, u.s, u.q)",
        [r.tenant_id for r in rows], [r.person_id for r in rows],
        [r.session_id for r in rows], [r.seq for r in rows], blobs, versions)


async def plaintext_sessions(pg: asyncpg.Connection, after: tuple[str, str, str] | None,
                             limit: int) -> list[PlainSession]:
    """The next sessions with a plaintext response or summary after `after`, locked."""
    t, p, s = after if after else (None, "", "")
    rows = await pg.fetch(
        "SELECT tenant_id, person_id, session_id, response::text, summary "
        "FROM conversation_sessions "
        "WHERE (response IS NOT NULL OR summary IS NOT NULL) AND ($1::text IS NULL OR "
        "(tenant_id, person_id, session_id) > ($1, $2, $3)) "
        "ORDER BY tenant_id, person_id, session_id LIMIT $4 FOR UPDATE", t, p, s, limit)
    return [PlainSession(*r.values()) for r in rows]


async def seal_sessions(pg: asyncpg.Connection, rows: list[PlainSession],
                        responses: list[Sealed | None], summaries: list[Sealed | None]) -> None:
    """Store each plaintext response and summary sealed in its place (None: the row had
    no plaintext of it; its sealed value, if any, stays)."""
    await pg.execute(
        "UPDATE conversation_sessions AS cs SET response = NULL, summary = NULL, "
        "response_sealed = CASE WHEN cs.response IS NULL THEN cs.response_sealed "
        "ELSE u.rb END, "
        "response_dek_version = CASE WHEN cs.response IS NULL THEN cs.response_dek_version "
        "ELSE u.rd END, "
        "summary_sealed = CASE WHEN cs.summary IS NULL THEN cs.summary_sealed ELSE u.sb END, "
        "summary_dek_version = CASE WHEN cs.summary IS NULL THEN cs.summary_dek_version "
        "ELSE u.sd END "
        "FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::integer[], "
        "$6::bytea[], $7::integer[]) AS u(t, p, s, rb, rd, sb, sd) "
        "WHERE (cs.tenant_id, cs.person_id, cs.session_id) = (u.t, u.p, u.s)",
        [r.tenant_id for r in rows], [r.person_id for r in rows],
        [r.session_id for r in rows], [x.blob if x else None for x in responses],
        [x.dek_version if x else None for x in responses],
        [x.blob if x else None for x in summaries],
        [x.dek_version if x else None for x in summaries])
