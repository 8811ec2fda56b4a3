"""The Cortex-Prime storage API, served as-is: sessions and history.

A session is a thread (/v1/threads), a history message a thread message. Differences
the platform adds (docs/cortex-prime.md): a Bearer token scopes every call to its
tenant and person (another person's session is 404); `user_id` must be the token's
person (403) and defaults to it; a message or state needs an existing session (404).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel, Field

from unison_shared.errors import NotFound

from ..deps import Ctx, Svc
from ..messages.repository import Query as MessageQuery
from ..messages.schemas import Content, MessageIn, Role
from ..threads.repository import ThreadFilter
from ..threads.schemas import AgentName, RecordId, ThreadCreate, ThreadPatch
from .cortex_common import (
    Message,
    Session,
    SessionDeleted,
    SessionStatus,
    cortex_router,
    message,
    session,
)

router = cortex_router()

Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0)]


class SessionCreate(BaseModel):
    agent_name: AgentName
    user_id: str | None = Field(default=None, description="the token's person (the default)")
    metadata: dict[str, Any] | None = None


class SessionUpdate(BaseModel):
    status: SessionStatus | None = None
    metadata: dict[str, Any] | None = None


class MessageCreate(BaseModel):
    session_id: RecordId
    role: Role
    content: Content
    metadata: dict[str, Any] | None = None
    parent_message_id: RecordId | None = None


@router.post("/sessions")
async def create_session(body: SessionCreate, ctx: Ctx, svc: Svc) -> Session:
    async with svc.db.statement(ctx) as conn:
        thread = await svc.threads.create(conn, ctx, ThreadCreate(
            agent_name=body.agent_name, metadata=body.metadata or {}))
        return session(thread)


@router.get("/sessions/{session_id}")
async def get_session(session_id: RecordId, ctx: Ctx, svc: Svc) -> Session:
    async with svc.db.statement(ctx) as conn:
        return session(await svc.threads.get(conn, ctx, session_id))


@router.put("/sessions/{session_id}")
async def update_session(session_id: RecordId, body: SessionUpdate, ctx: Ctx, svc: Svc) -> Session:
    async with svc.db.transaction(ctx) as conn:
        patch = ThreadPatch(status=body.status, metadata=body.metadata)
        return session(await svc.threads.patch(conn, ctx, session_id, patch))


@router.delete("/sessions/{session_id}")
async def delete_session(session_id: RecordId, ctx: Ctx, svc: Svc) -> SessionDeleted:
    await svc.threads.delete(ctx, session_id)
    return SessionDeleted(session_id=session_id)


@router.get("/sessions")
async def list_sessions(ctx: Ctx, svc: Svc,
                        agent_name: Annotated[str | None, Query(max_length=256)] = None,
                        user_id: Annotated[str | None, Query(max_length=256)] = None,
                        status: Annotated[SessionStatus | None, Query()] = None,
                        limit: Limit = 100, offset: Offset = 0) -> list[Session]:
    async with svc.db.statement(ctx) as conn:
        # user_id, when given, is the token's person (checked by authentication).
        threads = await svc.threads.page(conn, ctx, ThreadFilter(agent_name, status), offset,
                                         limit)
        return [session(t) for t in threads]


@router.post("/history")
async def add_message(body: MessageCreate, ctx: Ctx, svc: Svc) -> Message:
    m = await svc.messages.append(ctx, body.session_id, MessageIn(
        role=body.role, content=body.content, metadata=body.metadata or {},
        parent_message_id=body.parent_message_id))
    return message(m)


@router.get("/history")
async def get_history(session_id: Annotated[RecordId, Query()], ctx: Ctx, svc: Svc,
                      role: Annotated[Role | None, Query()] = None, limit: Limit = 100,
                      offset: Offset = 0) -> list[Message]:
    async with svc.db.statement(ctx) as conn:
        rows = await svc.messages.rows(conn, ctx, session_id,
                                       MessageQuery(role=role, offset=offset), limit)
        return [message(m) for m in rows]


@router.delete("/history")
async def delete_history(session_id: Annotated[RecordId, Query()], ctx: Ctx,
                         svc: Svc) -> SessionDeleted:
    if await svc.messages.delete_all(ctx, session_id) == 0:
        raise NotFound(f"no history for session {session_id}")
    return SessionDeleted(session_id=session_id)
