"""/v1/threads/{thread_id}/state: the newest version (with its ETag), versions, one
version, restore, and writes that check If-Match (412 when the version moved on)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Path, Response

from unison_shared.compiled_routes import service_router
from unison_shared.errors import NotFound

from ..deps import Ctx, Svc
from ..threads.router import ThreadIdParam
from ..vault.rules import expected_version
from .schemas import State, StateDeleted, StatePut, StateRestore, StateVersions

router = service_router(prefix="/v1/threads/{thread_id}/state", tags=["threads"])

IfMatch = Annotated[str | None, Header(max_length=64)]
VersionParam = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _etag(response: Response, state: State) -> State:
    response.headers["ETag"] = f'"{state.version}"'
    return state


@router.get("")
async def get_state(thread_id: ThreadIdParam, response: Response, ctx: Ctx, svc: Svc) -> State:
    async with svc.db.statement(ctx) as conn:
        state = await svc.state.get(conn, ctx, thread_id)
        if state is None:
            await svc.state.require(conn, ctx, thread_id)
            raise NotFound("the thread has no state yet")
        return _etag(response, state)


@router.put("")
async def put_state(thread_id: ThreadIdParam, body: StatePut, response: Response, ctx: Ctx,
                    svc: Svc, if_match: IfMatch = None) -> State:
    state = await svc.state.put(ctx, thread_id, body.data, expected_version(None, if_match))
    return _etag(response, state)


@router.get("/versions")
async def list_versions(thread_id: ThreadIdParam, ctx: Ctx, svc: Svc) -> StateVersions:
    async with svc.db.statement(ctx) as conn:
        return await svc.state.versions(conn, ctx, thread_id)


@router.get("/versions/{version}")
async def get_version(thread_id: ThreadIdParam, version: VersionParam, response: Response,
                      ctx: Ctx, svc: Svc) -> State:
    async with svc.db.statement(ctx) as conn:
        state = await svc.state.get(conn, ctx, thread_id, version)
        if state is None:
            await svc.state.require(conn, ctx, thread_id)
            raise NotFound(f"no state version {version} in this thread")
        return _etag(response, state)


@router.post("/restore")
async def restore_version(thread_id: ThreadIdParam, body: StateRestore, response: Response,
                          ctx: Ctx, svc: Svc, if_match: IfMatch = None) -> State:
    state = await svc.state.restore(ctx, thread_id, body.version,
                                    expected_version(None, if_match))
    return _etag(response, state)


@router.delete("")
async def delete_state(thread_id: ThreadIdParam, ctx: Ctx, svc: Svc) -> StateDeleted:
    return StateDeleted(thread_id=thread_id, deleted=await svc.state.delete_all(ctx, thread_id))
