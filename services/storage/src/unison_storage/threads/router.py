"""/v1/threads: the clean face of agent-runtime threads (a Cortex-Prime session is the
same record). Messages, state and artifacts hang off a thread in their own routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from unison_shared.compiled_routes import service_router

from ..deps import Ctx, Svc
from .repository import ThreadFilter
from .schemas import RecordId, Status, Thread, ThreadCreate, ThreadDeleted, ThreadPage, ThreadPatch

router = service_router(prefix="/v1/threads", tags=["threads"])

ThreadIdParam = Annotated[RecordId, Path(description="a thread id (session_<16 hex>)")]


@router.post("", status_code=201)
async def create_thread(body: ThreadCreate, ctx: Ctx, svc: Svc) -> Thread:
    async with svc.db.statement(ctx) as conn:
        return await svc.threads.create(conn, ctx, body)


@router.get("")
async def list_threads(ctx: Ctx, svc: Svc,
                       agent_name: Annotated[str | None, Query(max_length=256)] = None,
                       status: Annotated[Status | None, Query()] = None,
                       cursor: Annotated[str | None, Query(max_length=512)] = None,
                       limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> ThreadPage:
    async with svc.db.statement(ctx) as conn:
        return await svc.threads.list(conn, ctx, ThreadFilter(agent_name, status), cursor, limit)


@router.get("/{thread_id}")
async def get_thread(thread_id: ThreadIdParam, ctx: Ctx, svc: Svc) -> Thread:
    async with svc.db.statement(ctx) as conn:
        return await svc.threads.get(conn, ctx, thread_id)


@router.patch("/{thread_id}")
async def patch_thread(thread_id: ThreadIdParam, body: ThreadPatch, ctx: Ctx, svc: Svc) -> Thread:
    async with svc.db.transaction(ctx) as conn:
        return await svc.threads.patch(conn, ctx, thread_id, body)


@router.delete("/{thread_id}")
async def delete_thread(thread_id: ThreadIdParam, ctx: Ctx, svc: Svc) -> ThreadDeleted:
    """Deletes the thread with its messages, state and artifacts, and the payloads no
    other record references (their blobs after the commit, so not a DbTx route)."""
    return await svc.threads.delete(ctx, thread_id)
