"""Conversation rules: sessions are created by their first write; /v1 appends messages,
the legacy POST replaces a session's list; both read the same rows."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import asyncpg

from unison_shared import jsonutil
from unison_shared.auth import RequestContext
from unison_shared.errors import BadRequest, NotFound, ValidationFailed

from ..settings import ContextOptions
from . import repository
from .repository import MessageRow, SessionRow
from .schemas import Message, MessageIn, MessagePage, Session, SessionPage


def to_session(row: SessionRow) -> Session:
    response = row.response if isinstance(row.response, dict) else None
    return Session(session_id=row.session_id, response=response, summary=row.summary,
                   message_count=row.message_count, created_at=row.created_at,
                   updated_at=row.updated_at)


def to_message(row: MessageRow) -> Message:
    body = row.body if isinstance(row.body, dict) else {"content": row.body}
    role = body.get("role")
    metadata = body.get("metadata")
    return Message(seq=row.seq, role=role if isinstance(role, str) else None,
                   content=body.get("content"),
                   metadata=metadata if isinstance(metadata, dict) else {},
                   created_at=row.created_at)


def _encode(at: datetime, sid: str) -> str:
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{sid}".encode()).decode()


def _decode(cursor: str) -> tuple[datetime, str]:
    try:
        at, _, sid = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(at), sid
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("cursor: not one this service issued", field="cursor") from exc


class ConversationService:
    def __init__(self, opts: ContextOptions) -> None:
        self.max_bytes = opts.max_json_bytes
        self.max_messages = opts.max_messages_per_session

    def _encode_all(self, values: list[Any], field: str) -> list[str]:
        return [jsonutil.encode_jsonb(v, f"{field}[{i}]", self.max_bytes)
                for i, v in enumerate(values)]

    async def append(self, pg: asyncpg.Connection, ctx: RequestContext, sid: str,
                     messages: list[MessageIn]) -> list[Message]:
        """Append in one statement (the session is created by its first message)."""
        bodies = self._encode_all([m.model_dump() for m in messages], "messages")
        rows = await repository.append(pg, ctx.tenant_id, ctx.person_id, sid, bodies,
                                       self.max_messages)
        if rows is None:
            raise ValidationFailed(f"messages: a session keeps at most {self.max_messages}",
                                   field="messages")
        return [to_message(r) for r in rows]

    async def replace(self, pg: asyncpg.Connection, ctx: RequestContext, sid: str,
                      messages: list[Any], response: Any, summary: str | None,
                      at: datetime | None = None) -> None:
        """The legacy write: the message list, response and summary replace the old ones."""
        if len(messages) > self.max_messages:
            raise ValidationFailed(f"messages: a session keeps at most {self.max_messages}",
                                   field="messages")
        bodies = self._encode_all(messages, "messages")
        response_json = (None if response is None
                         else jsonutil.encode_jsonb(response, "response", self.max_bytes))
        await repository.ensure_session(pg, ctx.tenant_id, ctx.person_id, sid)
        await repository.clear_messages(pg, ctx.tenant_id, ctx.person_id, sid)
        if bodies:
            first = await repository.allocate(pg, ctx.tenant_id, ctx.person_id, sid,
                                              len(bodies))
            await repository.insert_messages(pg, ctx.tenant_id, ctx.person_id, sid, first,
                                             bodies)
        await repository.set_state(pg, ctx.tenant_id, ctx.person_id, sid, True, response_json,
                                   True, summary, at)

    async def set_state(self, pg: asyncpg.Connection, ctx: RequestContext, sid: str,
                        fields: dict[str, Any]) -> Session:
        response = fields.get("response")
        response_json = (None if response is None
                         else jsonutil.encode_jsonb(response, "response", self.max_bytes))
        await repository.ensure_session(pg, ctx.tenant_id, ctx.person_id, sid)
        row = await repository.set_state(pg, ctx.tenant_id, ctx.person_id, sid,
                                         "response" in fields, response_json,
                                         "summary" in fields, fields.get("summary"))
        assert row is not None
        return to_session(row)

    async def session(self, pg: asyncpg.Connection, ctx: RequestContext,
                      sid: str) -> SessionRow | None:
        return await repository.get_session(pg, ctx.tenant_id, ctx.person_id, sid)

    async def all_messages(self, pg: asyncpg.Connection, ctx: RequestContext,
                           sid: str) -> list[Any]:
        rows = await repository.list_messages(pg, ctx.tenant_id, ctx.person_id, sid, None,
                                              False, self.max_messages)
        return [r.body for r in rows]

    async def messages(self, pg: asyncpg.Connection, ctx: RequestContext, sid: str,
                       cursor: str | None, newest_first: bool, limit: int) -> MessagePage:
        if cursor is not None and not cursor.isdigit():
            raise BadRequest("cursor: not one this service issued", field="cursor")
        if await self.session(pg, ctx, sid) is None:
            raise NotFound(f"no session {sid}")
        rows = await repository.list_messages(pg, ctx.tenant_id, ctx.person_id, sid,
                                              int(cursor) if cursor else None, newest_first,
                                              limit + 1)
        items = [to_message(r) for r in rows[:limit]]
        more = len(rows) > limit
        return MessagePage(items=items, next_cursor=str(items[-1].seq) if more else None)

    async def sessions(self, pg: asyncpg.Connection, ctx: RequestContext, cursor: str | None,
                       limit: int) -> SessionPage:
        after = _decode(cursor) if cursor else None
        rows = await repository.list_sessions(pg, ctx.tenant_id, ctx.person_id, after,
                                              limit + 1)
        items = [to_session(r) for r in rows[:limit]]
        more = len(rows) > limit
        last = rows[limit - 1] if more else None
        return SessionPage(items=items,
                           next_cursor=_encode(last.updated_at, last.session_id) if last
                           else None)

    async def delete(self, pg: asyncpg.Connection, ctx: RequestContext, sid: str) -> None:
        if not await repository.delete_session(pg, ctx.tenant_id, ctx.person_id, sid):
            raise NotFound(f"no session {sid}")

    async def delete_all(self, pg: asyncpg.Connection, ctx: RequestContext) -> int:
        return await repository.delete_all(pg, ctx.tenant_id, ctx.person_id)
