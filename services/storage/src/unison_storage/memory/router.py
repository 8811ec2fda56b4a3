"""Working-memory API under /v1/memory/sessions/{session_id}.

`entries` are addressed by id (POST appends; a body `key` makes it an upsert), `keys`
by the caller's key (PUT replaces). Lists are newest first. Expired entries are 404.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query, Response

from unison_shared.compiled_routes import service_router
from unison_shared.errors import NotFound

from ..deps import Ctx, Svc
from .schemas import Deleted, EntryKey, MemoryEntry, MemoryPage, MemoryPut, MemoryWrite, SessionId

router = service_router(prefix="/v1/memory/sessions/{session_id}", tags=["memory"])

Session = Annotated[SessionId, Path(description="session id, 1-256 printable characters")]
KeyParam = Annotated[EntryKey, Path(description="entry key, 1-512 printable characters")]
EntryIdParam = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.post("/entries", status_code=201)
async def write_entry(session_id: Session, body: MemoryWrite, ctx: Ctx,
                      svc: Svc) -> MemoryEntry:
    return await svc.memory.write(ctx, session_id, body.payload, body.key, body.keyspace,
                                  body.ttl_seconds)


@router.get("/entries")
async def list_entries(session_id: Session, ctx: Ctx, svc: Svc,
                       cursor: Annotated[str | None, Query(max_length=256)] = None,
                       limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> MemoryPage:
    return await svc.memory.list(ctx, session_id, cursor, limit)


@router.get("/entries/latest")
async def latest_entry(session_id: Session, ctx: Ctx, svc: Svc) -> MemoryEntry:
    entry = await svc.memory.latest(ctx, session_id)
    if entry is None:
        raise NotFound("the session has no live entry")
    return entry


@router.get("/entries/{entry_id}")
async def get_entry(session_id: Session, entry_id: EntryIdParam, ctx: Ctx,
                    svc: Svc) -> MemoryEntry:
    return await svc.memory.get(ctx, session_id, entry_id)


@router.delete("/entries/{entry_id}", status_code=204)
async def delete_entry(session_id: Session, entry_id: EntryIdParam, ctx: Ctx,
                       svc: Svc) -> Response:
    await svc.memory.delete(ctx, session_id, entry_id)
    return Response(status_code=204)


@router.put("/keys/{key}")
async def put_key(session_id: Session, key: KeyParam, body: MemoryPut, ctx: Ctx,
                  svc: Svc) -> MemoryEntry:
    return await svc.memory.write(ctx, session_id, body.payload, key, body.keyspace,
                                  body.ttl_seconds)


@router.get("/keys/{key}")
async def get_key(session_id: Session, key: KeyParam, ctx: Ctx, svc: Svc) -> MemoryEntry:
    return await svc.memory.by_key(ctx, session_id, key)


@router.delete("/keys/{key}", status_code=204)
async def delete_key(session_id: Session, key: KeyParam, ctx: Ctx, svc: Svc) -> Response:
    await svc.memory.delete_key(ctx, session_id, key)
    return Response(status_code=204)


@router.delete("")
async def delete_session(session_id: Session, ctx: Ctx, svc: Svc) -> Deleted:
    """Remove the whole session; `deleted` counts the live entries it held."""
    return Deleted(deleted=await svc.memory.delete_session(ctx, session_id))
