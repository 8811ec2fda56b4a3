"""SQL for thread_messages. An append numbers the message and counts it in the thread
in the statement that inserts it, under the thread's row lock: concurrent appends get
consecutive sequence numbers and the count stays exact."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

_OUT = ("m.id, m.thread_id, m.seq, m.role, m.content, m.content_bytes, m.parent_message_id, "
        "m.metadata, m.created_at, m.content_object_id, o.storage_key")
_RETURNING = ("id, thread_id, seq, role, content, content_bytes, parent_message_id, metadata, "
              "created_at, content_object_id, NULL::text AS storage_key")
_BUMP = ("UPDATE threads SET last_seq = last_seq + 1, message_count = message_count + 1, "
         "updated_at = now() WHERE tenant_id = $1 AND person_id = $2 AND id = $3")
_COLUMNS = ("tenant_id, person_id, thread_id, seq, id, role, content, content_object_id, "
            "content_bytes, parent_message_id, metadata, created_at")


@dataclass(frozen=True)
class MessageRow:
    id: str
    thread_id: str
    seq: int
    role: str
    content: str | None
    content_bytes: int
    parent_message_id: str | None
    metadata: dict[str, Any]
    created_at: datetime
    content_object_id: str | None
    storage_key: str | None


@dataclass(frozen=True)
class NewMessage:
    id: str
    role: str
    content: str | None
    object_id: str | None
    content_bytes: int
    parent_message_id: str | None
    metadata_json: str

    def args(self) -> tuple[Any, ...]:
        return (self.id, self.role, self.content, self.object_id, self.content_bytes,
                self.parent_message_id, self.metadata_json)


# The small append's guard: a parent, when named, is a message of the thread.
_PARENT_OK = (" AND ($9::text IS NULL OR EXISTS (SELECT 1 FROM thread_messages p WHERE "
              "p.tenant_id = $1 AND p.person_id = $2 AND p.thread_id = $3 AND p.id = $9))")


async def append(pg: asyncpg.Connection, tenant: str, person: str, thread_id: str,
                 new: NewMessage) -> MessageRow | None:
    """Number, count and insert in one statement; None when the caller has no thread or
    the parent it names is not in the thread."""
    record = await pg.fetchrow(
        f"WITH t AS ({_BUMP}{_PARENT_OK} RETURNING last_seq) "
        f"INSERT INTO thread_messages ({_COLUMNS}) "
        "SELECT $1, $2, $3, t.last_seq, $4, $5, $6, $7, $8, $9, $10::jsonb, clock_timestamp() "
        f"FROM t RETURNING {_RETURNING}", tenant, person, thread_id, *new.args())
    return MessageRow(*record.values()) if record else None


async def bump(pg: asyncpg.Connection, tenant: str, person: str, thread_id: str) -> int | None:
    """The next sequence number, counted in the thread and its row locked (in a
    transaction); None when the caller has no thread."""
    seq: int | None = await pg.fetchval(f"{_BUMP} RETURNING last_seq", tenant, person,
                                        thread_id)
    return seq


async def insert(pg: asyncpg.Connection, tenant: str, person: str, thread_id: str, seq: int,
                 new: NewMessage) -> MessageRow:
    record = await pg.fetchrow(
        f"INSERT INTO thread_messages ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
        f"$9, $10, $11::jsonb, clock_timestamp()) RETURNING {_RETURNING}",
        tenant, person, thread_id, seq, *new.args())
    return MessageRow(*record.values())


async def has_message(pg: asyncpg.Connection, tenant: str, person: str, thread_id: str,
                      message_id: str) -> bool:
    return await pg.fetchval(
        "SELECT 1 FROM thread_messages WHERE tenant_id = $1 AND person_id = $2 "
        "AND thread_id = $3 AND id = $4", tenant, person, thread_id, message_id) is not None


@dataclass(frozen=True)
class Query:
    role: str | None = None
    after_seq: int | None = None  # keyset: past this sequence number in the read order
    newest_first: bool = False
    offset: int = 0


async def list_messages(pg: asyncpg.Connection, tenant: str, person: str, thread_id: str,
                        q: Query, limit: int) -> list[MessageRow]:
    order, past = ("DESC", "<") if q.newest_first else ("ASC", ">")
    records = await pg.fetch(
        f"SELECT {_OUT} FROM thread_messages m LEFT JOIN objects o "
        "ON o.tenant_id = m.tenant_id AND o.id = m.content_object_id "
        "WHERE m.tenant_id = $1 AND m.person_id = $2 AND m.thread_id = $3 "
        "AND ($4::text IS NULL OR m.role = $4) "
        f"AND ($5::bigint IS NULL OR m.seq {past} $5) "
        f"ORDER BY m.seq {order} OFFSET $6 LIMIT $7",
        tenant, person, thread_id, q.role, q.after_seq, q.offset, limit)
    return [MessageRow(*r.values()) for r in records]


async def delete_all(pg: asyncpg.Connection, tenant: str, person: str,
                     thread_id: str) -> tuple[int, set[str]] | None:
    """Empty the thread (its sequence goes on); (messages deleted, objects they
    referenced), or None when the caller has no thread."""
    if await pg.fetchval("UPDATE threads SET message_count = 0, updated_at = now() "
                         "WHERE tenant_id = $1 AND person_id = $2 AND id = $3 RETURNING 1",
                         tenant, person, thread_id) is None:
        return None
    records = await pg.fetch("DELETE FROM thread_messages WHERE tenant_id = $1 "
                             "AND thread_id = $2 RETURNING content_object_id",
                             tenant, thread_id)
    return len(records), {r[0] for r in records if r[0] is not None}
