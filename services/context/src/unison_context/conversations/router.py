"""Conversation API: /v1/conversations/{person_id}/sessions[/{session_id}[/messages]]."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Response

from unison_shared.compiled_routes import service_router
from unison_shared.database import DbConn, DbTx
from unison_shared.errors import NotFound

from ..deps import Ctx, Svc
from .schemas import (
    AppendIn,
    Deleted,
    Message,
    MessagePage,
    Session,
    SessionId,
    SessionPage,
    StateIn,
)
from .service import to_session

router = service_router(prefix="/v1/conversations/{person_id}/sessions",
                        tags=["conversations"])
Cursor = Annotated[str | None, Query(max_length=512)]


@router.get("")
async def list_sessions(person_id: str, ctx: Ctx, svc: Svc, conn: DbConn,
                        cursor: Cursor = None,
                        limit: Annotated[int, Query(ge=1, le=200)] = 50) -> SessionPage:
    """The person's sessions, most recently updated first."""
    return await svc.conversations.sessions(conn, ctx, cursor, limit)


@router.delete("")
async def delete_sessions(person_id: str, ctx: Ctx, svc: Svc, conn: DbConn) -> Deleted:
    return Deleted(deleted=await svc.conversations.delete_all(conn, ctx))


@router.get("/{session_id}")
async def get_session(person_id: str, session_id: SessionId, ctx: Ctx, svc: Svc,
                      conn: DbConn) -> Session:
    row = await svc.conversations.session(conn, ctx, session_id)
    if row is None:
        raise NotFound(f"no session {session_id}")
    return to_session(row)


@router.patch("/{session_id}")
async def set_session_state(person_id: str, session_id: SessionId, body: StateIn, ctx: Ctx,
                            svc: Svc, conn: DbTx) -> Session:
    """Set the latest response and/or the summary (creates the session if needed)."""
    return await svc.conversations.set_state(conn, ctx, session_id,
                                             body.model_dump(exclude_unset=True))


@router.delete("/{session_id}", status_code=204)
async def delete_session(person_id: str, session_id: SessionId, ctx: Ctx, svc: Svc,
                         conn: DbConn) -> Response:
    await svc.conversations.delete(conn, ctx, session_id)
    return Response(status_code=204)


@router.post("/{session_id}/messages", status_code=201)
async def append_messages(person_id: str, session_id: SessionId, body: AppendIn, ctx: Ctx,
                          svc: Svc, conn: DbConn) -> list[Message]:
    """Append messages (server timestamps, sequence numbers in order)."""
    return await svc.conversations.append(conn, ctx, session_id, body.messages)


@router.get("/{session_id}/messages")
async def read_messages(person_id: str, session_id: SessionId, ctx: Ctx, svc: Svc,
                        conn: DbConn, cursor: Cursor = None,
                        order: Annotated[str, Query(pattern="^(asc|desc)$")] = "asc",
                        limit: Annotated[int, Query(ge=1, le=500)] = 100) -> MessagePage:
    """A page of messages, oldest first (`order=asc`) or newest first (`order=desc`)."""
    return await svc.conversations.messages(conn, ctx, session_id, cursor, order == "desc",
                                            limit)
