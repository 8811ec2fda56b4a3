"""Thread rules: the one record behind a Cortex-Prime "session" and a memory thread.

A thread belongs to the caller's tenant and person; ids are minted here
(`session_<16 hex>`). Deleting a thread deletes its messages, state versions and
artifacts (foreign-key cascade) and every payload object no other record references.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

import asyncpg

from unison_shared.auth import RequestContext
from unison_shared.errors import BadRequest, NotFound
from unison_shared.jsonutil import encode_jsonb

from . import cursor as cursors
from . import repository as repo
from .payloads import Payloads
from .repository import ThreadFilter
from .schemas import Thread, ThreadCreate, ThreadDeleted, ThreadPage, ThreadPatch

ThreadList = list[Thread]  # (the class below has a method named `list`)
_CURSOR = "t"


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def missing(thread_id: str) -> NotFound:
    return NotFound(f"no thread {thread_id}")


class ThreadService:
    def __init__(self, payloads: Payloads, max_json_bytes: int) -> None:
        self.payloads = payloads
        self.max_json_bytes = max_json_bytes

    def encode(self, value: Any, field: str) -> str:
        return encode_jsonb(value, field, self.max_json_bytes)

    async def create(self, conn: asyncpg.Connection, ctx: RequestContext,
                     body: ThreadCreate) -> Thread:
        return await repo.insert(conn, ctx.tenant_id, ctx.person_id, new_id("session"),
                                 body.agent_name, body.title, body.status,
                                 self.encode(body.metadata, "metadata"))

    async def get(self, conn: asyncpg.Connection, ctx: RequestContext,
                  thread_id: str) -> Thread:
        thread = await repo.get(conn, ctx.tenant_id, ctx.person_id, thread_id)
        if thread is None:
            raise missing(thread_id)
        return thread

    async def require(self, conn: asyncpg.Connection, ctx: RequestContext, thread_id: str,
                      lock: bool = False) -> None:
        if not await repo.exists(conn, ctx.tenant_id, ctx.person_id, thread_id, lock):
            raise missing(thread_id)

    async def patch(self, conn: asyncpg.Connection, ctx: RequestContext, thread_id: str,
                    body: ThreadPatch) -> Thread:
        changes: dict[str, Any] = {}
        for name in body.model_fields_set & {"agent_name", "title", "status"}:
            value = getattr(body, name)
            if value is not None or name == "title":
                changes[name] = value
        if body.metadata is not None:
            changes["metadata"] = self.encode(body.metadata, "metadata")
        thread = await repo.update(conn, ctx.tenant_id, ctx.person_id, thread_id, changes)
        if thread is None:
            raise missing(thread_id)
        return thread

    async def list(self, conn: asyncpg.Connection, ctx: RequestContext, f: ThreadFilter,
                   cursor: str | None, limit: int) -> ThreadPage:
        after: tuple[datetime, str] | None = None
        if cursor:
            at, thread_id = cursors.decode(_CURSOR, cursor, 2)
            try:
                after = datetime.fromisoformat(str(at)), str(thread_id)
            except ValueError as exc:
                raise BadRequest("cursor: not one this service issued") from exc
        rows = await repo.list_threads(conn, ctx.tenant_id, ctx.person_id, f, after, 0,
                                       limit + 1)
        items = rows[:limit]
        next_cursor = (cursors.encode(_CURSOR, items[-1].created_at.isoformat(), items[-1].id)
                       if len(rows) > limit else None)
        return ThreadPage(items=items, next_cursor=next_cursor)

    async def page(self, conn: asyncpg.Connection, ctx: RequestContext, f: ThreadFilter,
                   offset: int, limit: int) -> ThreadList:
        return await repo.list_threads(conn, ctx.tenant_id, ctx.person_id, f, None, offset,
                                       limit)

    async def delete(self, ctx: RequestContext, thread_id: str) -> ThreadDeleted:
        async with self.payloads.transaction(ctx) as (conn, txn):
            contents = await repo.delete(conn, ctx.tenant_id, ctx.person_id, thread_id)
            if contents is None:
                raise missing(thread_id)
            gone = await self.payloads.release(conn, txn, ctx.tenant_id, contents.object_ids)
        return ThreadDeleted(id=thread_id, messages=contents.messages,
                             state_versions=contents.state_versions,
                             artifacts=contents.artifacts, payloads=gone)
