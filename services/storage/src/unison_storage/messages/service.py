"""Message rules: append (numbered and counted under the thread's lock), read oldest or
newest first with a cursor, empty a thread.

Content over `agent_message_inline_max_bytes` (UTF-8) is an object addressed by its
SHA-256 (the person's identical content is stored once); the row keeps the reference
and reads return the content transparently.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from unison_shared.auth import RequestContext
from unison_shared.database import Database
from unison_shared.errors import BadRequest, ValidationFailed
from unison_shared.jsonutil import encode_jsonb

from ..settings import StorageOptions
from ..threads import cursor as cursors
from ..threads import repository as threads
from ..threads.payloads import Payloads
from ..threads.service import missing, new_id
from . import repository as repo
from .repository import MessageRow, NewMessage, Query
from .schemas import Message, MessageIn, MessagePage, Order

_CURSOR = "m"


class MessageService:
    def __init__(self, db: Database, payloads: Payloads, options: StorageOptions) -> None:
        self.db = db
        self.payloads = payloads
        self.options = options

    async def append(self, ctx: RequestContext, thread_id: str, body: MessageIn) -> Message:
        meta = encode_jsonb(body.metadata, "metadata", self.options.max_json_bytes)
        data = body.content.encode()
        t, p = ctx.tenant_id, ctx.person_id
        if len(data) <= self.options.agent_message_inline_max_bytes:
            new = NewMessage(new_id("msg"), body.role, body.content, None, len(data),
                             body.parent_message_id, meta)
            async with self.db.statement(ctx) as conn:
                row = await repo.append(conn, t, p, thread_id, new)
                if row is None:  # which guard refused it: the thread, or the parent
                    if not await _thread_exists(conn, ctx, thread_id):
                        raise missing(thread_id)
                    await self._check_parent(conn, ctx, thread_id, body.parent_message_id)
                    raise missing(thread_id)  # deleted in between
            return _message(row, body.content)
        async with self.payloads.transaction(ctx) as (conn, txn):
            seq = await repo.bump(conn, t, p, thread_id)  # the thread's lock comes first
            if seq is None:
                raise missing(thread_id)
            await self._check_parent(conn, ctx, thread_id, body.parent_message_id)
            ref = await self.payloads.put_content(conn, txn, ctx, data,
                                                  "text/plain; charset=utf-8", "message")
            new = NewMessage(new_id("msg"), body.role, None, ref.id, len(data),
                             body.parent_message_id, meta)
            row = await repo.insert(conn, t, p, thread_id, seq, new)
        return _message(row, body.content)

    @staticmethod
    async def _check_parent(conn: asyncpg.Connection, ctx: RequestContext, thread_id: str,
                            parent: str | None) -> None:
        if parent is not None and not await repo.has_message(
                conn, ctx.tenant_id, ctx.person_id, thread_id, parent):
            raise ValidationFailed(f"parent_message_id: no message {parent} in this thread")

    async def rows(self, conn: asyncpg.Connection, ctx: RequestContext, thread_id: str,
                   q: Query, limit: int) -> list[Message]:
        rows = await repo.list_messages(conn, ctx.tenant_id, ctx.person_id, thread_id, q,
                                        limit)
        return [await self._resolve(row) for row in rows]

    async def list(self, conn: asyncpg.Connection, ctx: RequestContext, thread_id: str,
                   order: Order, role: str | None, cursor: str | None,
                   limit: int) -> MessagePage:
        newest = order == "newest"
        after = None
        if cursor:
            seq, was_newest = cursors.decode(_CURSOR, cursor, 2)
            if not isinstance(seq, int) or was_newest != newest:
                raise cursors_error()
            after = seq
        items = await self.rows(conn, ctx, thread_id, Query(role, after, newest), limit + 1)
        if not items and not await _thread_exists(conn, ctx, thread_id):
            raise missing(thread_id)
        page = items[:limit]
        next_cursor = (cursors.encode(_CURSOR, page[-1].seq, newest)
                       if len(items) > limit else None)
        return MessagePage(items=page, next_cursor=next_cursor)

    async def delete_all(self, ctx: RequestContext, thread_id: str) -> int:
        async with self.payloads.transaction(ctx) as (conn, txn):
            result = await repo.delete_all(conn, ctx.tenant_id, ctx.person_id, thread_id)
            if result is None:
                raise missing(thread_id)
            count, object_ids = result
            await self.payloads.release(conn, txn, ctx.tenant_id, object_ids)
        return count

    async def _resolve(self, row: MessageRow) -> Message:
        content = row.content
        if content is None:
            content = (await self.payloads.read(row.storage_key, row.content_bytes)).decode()
        return _message(row, content)


def cursors_error() -> BadRequest:
    return BadRequest("cursor: not one this service issued (or for another order)")


async def _thread_exists(conn: asyncpg.Connection, ctx: RequestContext, thread_id: str) -> bool:
    return await threads.exists(conn, ctx.tenant_id, ctx.person_id, thread_id)


def _message(row: MessageRow, content: str) -> Message:
    fields: dict[str, Any] = {name: getattr(row, name) for name in Message.model_fields
                              if name != "content"}
    return Message(content=content, **fields)

