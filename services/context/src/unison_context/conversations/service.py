"""Conversation rules: sessions are created by their first write; /v1 appends messages,
the legacy POST replaces a session's list; both read the same rows. Content is sealed
on write and opened on read (sealing.py)."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import asyncpg

from unison_shared import jsonutil
from unison_shared.auth import RequestContext
from unison_shared.errors import BadRequest, NotFound, ValidationFailed

from ..keys.service import PersonKeys
from ..settings import ContextOptions
from . import repository
from .repository import Sealed
from .schemas import Message, MessageIn, MessagePage, Session, SessionPage
from .sealing import MESSAGE, RESPONSE, SUMMARY, ConversationSealer, OpenMessage, OpenSession


def to_session(row: OpenSession) -> Session:
    response = row.response if isinstance(row.response, dict) else None
    return Session(session_id=row.session_id, response=response, summary=row.summary,
                   message_count=row.message_count, created_at=row.created_at,
                   updated_at=row.updated_at)


def to_message(row: OpenMessage) -> Message:
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
    def __init__(self, keys: PersonKeys, opts: ContextOptions) -> None:
        self.sealer = ConversationSealer(keys)
        self.max_bytes = opts.max_json_bytes
        self.max_messages = opts.max_messages_per_session

    def _encode_all(self, values: list[Any], field: str) -> list[str]:
        return [jsonutil.encode_jsonb(v, f"{field}[{i}]", self.max_bytes)
                for i, v in enumerate(values)]

    def _encode_response(self, response: Any) -> str | None:
        return (None if response is None
                else jsonutil.encode_jsonb(response, "response", self.max_bytes))

    async def _seal_state(self, pg: asyncpg.Connection, ctx: RequestContext, sid: str,
                          text: str | None, summary: str | None
                          ) -> tuple[Sealed | None, Sealed | None]:
        """The response (JSON text, already checked) and the summary sealed; None stays
        None."""
        sealer, tenant, person = self.sealer, ctx.tenant_id, ctx.person_id
        if text is not None or summary is not None:
            await sealer.ready(pg, tenant, person)
        return (None if text is None
                else await sealer.seal(pg, tenant, person, RESPONSE, sid, text.encode()),
                None if summary is None
                else await sealer.seal(pg, tenant, person, SUMMARY, sid, summary.encode()))

    async def append(self, pg: asyncpg.Connection, ctx: RequestContext, sid: str,
                     messages: list[MessageIn]) -> list[Message]:
        """Append in one statement (the session is created by its first message); the
        messages are sealed first (the person's key is cached after its first use)."""
        dumped = [m.model_dump() for m in messages]
        sealed = await self.sealer.seal_json(pg, ctx.tenant_id, ctx.person_id, MESSAGE, sid,
                                             self._encode_all(dumped, "messages"))
        rows = await repository.append(pg, ctx.tenant_id, ctx.person_id, sid, sealed,
                                       self.max_messages)
        if rows is None:
            raise ValidationFailed(f"messages: a session keeps at most {self.max_messages}",
                                   field="messages")
        return [to_message(OpenMessage(r.seq, body, r.created_at))
                for r, body in zip(rows, dumped, strict=True)]

    async def replace(self, pg: asyncpg.Connection, ctx: RequestContext, sid: str,
                      messages: list[Any], response: Any, summary: str | None,
                      at: datetime | None = None) -> None:
        """The legacy write: the message list, response and summary replace the old ones."""
        if len(messages) > self.max_messages:
            raise ValidationFailed(f"messages: a session keeps at most {self.max_messages}",
                                   field="messages")
        # Every value is checked before anything is sealed (a person's first seal may
        # create their key in this transaction).
        texts = self._encode_all(messages, "messages")
        response_text = self._encode_response(response)
        bodies = await self.sealer.seal_json(pg, ctx.tenant_id, ctx.person_id, MESSAGE, sid,
                                             texts)
        sealed_response, sealed_summary = await self._seal_state(pg, ctx, sid, response_text,
                                                                 summary)
        await repository.ensure_session(pg, ctx.tenant_id, ctx.person_id, sid)
        await repository.clear_messages(pg, ctx.tenant_id, ctx.person_id, sid)
        if bodies:
            first = await repository.allocate(pg, ctx.tenant_id, ctx.person_id, sid,
                                              len(bodies))
            await repository.insert_messages(pg, ctx.tenant_id, ctx.person_id, sid, first,
                                             bodies)
        await repository.set_state(pg, ctx.tenant_id, ctx.person_id, sid, True,
                                   sealed_response, True, sealed_summary, at)

    async def set_state(self, pg: asyncpg.Connection, ctx: RequestContext, sid: str,
                        fields: dict[str, Any]) -> Session:
        """Inside a transaction (the request's)."""
        response, summary = await self._seal_state(
            pg, ctx, sid, self._encode_response(fields.get("response")), fields.get("summary"))
        await repository.ensure_session(pg, ctx.tenant_id, ctx.person_id, sid)
        row = await repository.set_state(pg, ctx.tenant_id, ctx.person_id, sid,
                                         "response" in fields, response,
                                         "summary" in fields, summary)
        assert row is not None
        return to_session(await self.sealer.open_session(pg, ctx.tenant_id, ctx.person_id,
                                                         row))

    async def session(self, pg: asyncpg.Connection, ctx: RequestContext,
                      sid: str) -> OpenSession | None:
        row = await repository.get_session(pg, ctx.tenant_id, ctx.person_id, sid)
        if row is None:
            return None
        return await self.sealer.open_session(pg, ctx.tenant_id, ctx.person_id, row)

    async def message_page(self, pg: asyncpg.Connection, ctx: RequestContext, sid: str,
                           after: int | None, newest_first: bool,
                           limit: int) -> list[OpenMessage]:
        """Messages after (or, newest first, before) the sequence number `after`, opened."""
        rows = await repository.list_messages(pg, ctx.tenant_id, ctx.person_id, sid, after,
                                              newest_first, limit)
        return [await self.sealer.open_message(pg, ctx.tenant_id, ctx.person_id, sid, r)
                for r in rows]

    async def session_page(self, pg: asyncpg.Connection, ctx: RequestContext,
                           after: tuple[datetime, str] | None,
                           limit: int) -> list[OpenSession]:
        """Sessions most recently updated first, after (updated_at, session_id), opened."""
        rows = await repository.list_sessions(pg, ctx.tenant_id, ctx.person_id, after, limit)
        return [await self.sealer.open_session(pg, ctx.tenant_id, ctx.person_id, r)
                for r in rows]

    async def all_messages(self, pg: asyncpg.Connection, ctx: RequestContext,
                           sid: str) -> list[Any]:
        rows = await self.message_page(pg, ctx, sid, None, False, self.max_messages)
        return [r.body for r in rows]

    async def messages(self, pg: asyncpg.Connection, ctx: RequestContext, sid: str,
                       cursor: str | None, newest_first: bool, limit: int) -> MessagePage:
        if cursor is not None and not cursor.isdigit():
            raise BadRequest("cursor: not one this service issued", field="cursor")
        if await self.session(pg, ctx, sid) is None:
            raise NotFound(f"no session {sid}")
        rows = await self.message_page(pg, ctx, sid, int(cursor) if cursor else None,
                                       newest_first, limit + 1)
        items = [to_message(r) for r in rows[:limit]]
        more = len(rows) > limit
        return MessagePage(items=items, next_cursor=str(items[-1].seq) if more else None)

    async def sessions(self, pg: asyncpg.Connection, ctx: RequestContext, cursor: str | None,
                       limit: int) -> SessionPage:
        after = _decode(cursor) if cursor else None
        rows = await self.session_page(pg, ctx, after, limit + 1)
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
