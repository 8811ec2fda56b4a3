"""/v1/threads/{thread_id}/messages: append, read oldest or newest first, empty."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from unison_shared.compiled_routes import service_router

from ..deps import Ctx, Svc
from ..threads.router import ThreadIdParam
from .schemas import Message, MessageIn, MessagePage, MessagesDeleted, Order, Role

router = service_router(prefix="/v1/threads/{thread_id}/messages", tags=["threads"])


@router.post("", status_code=201)
async def append_message(thread_id: ThreadIdParam, body: MessageIn, ctx: Ctx,
                         svc: Svc) -> Message:
    return await svc.messages.append(ctx, thread_id, body)


@router.get("")
async def list_messages(thread_id: ThreadIdParam, ctx: Ctx, svc: Svc,
                        order: Annotated[Order, Query()] = "oldest",
                        role: Annotated[Role | None, Query()] = None,
                        cursor: Annotated[str | None, Query(max_length=512)] = None,
                        limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> MessagePage:
    async with svc.db.statement(ctx) as conn:
        return await svc.messages.list(conn, ctx, thread_id, order, role, cursor, limit)


@router.delete("")
async def delete_messages(thread_id: ThreadIdParam, ctx: Ctx, svc: Svc) -> MessagesDeleted:
    return MessagesDeleted(thread_id=thread_id,
                           deleted=await svc.messages.delete_all(ctx, thread_id))
