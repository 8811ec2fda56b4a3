"""Legacy conversation paths: POST/GET /conversation/{person_id}/{session_id} (the POST
replaces the session's messages, response and summary) and the public health probe."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from unison_shared.compiled_routes import service_router
from unison_shared.database import DbConn, DbTx
from unison_shared.errors import PayloadTooLarge, ValidationFailed

from ..conversations.schemas import SessionId
from ..deps import Ctx, Svc
from .common import BodyError, epoch, fail, json_object

router = service_router(tags=["legacy"])


@router.get("/conversation/health")
async def conversation_health() -> dict[str, Any]:
    """Public: says the routes are served, and nothing about the database."""
    return {"ok": True}


@router.post("/conversation/{person_id}/{session_id}", response_model=None)
async def post_conversation(person_id: str, session_id: SessionId, request: Request,
                            ctx: Ctx, svc: Svc, conn: DbTx) -> dict[str, Any] | JSONResponse:
    try:
        body = await json_object(request, ctx)
    except BodyError as exc:
        return exc.response
    messages = body.get("messages", [])
    response = body.get("response")
    summary = body.get("summary")
    if not isinstance(messages, list):
        return fail("invalid-messages", field="messages", reason="must be a list")
    if response is not None and not isinstance(response, dict):
        return fail("invalid-response", field="response", reason="must be a JSON object")
    if summary is not None and (not isinstance(summary, str) or "\x00" in summary):
        return fail("invalid-summary", field="summary", reason="must be a string")
    try:
        await svc.conversations.replace(conn, ctx, session_id, messages, response, summary)
    except PayloadTooLarge as exc:
        return fail("too-large", 413, field=exc.detail.split(" ")[0])
    except ValidationFailed as exc:
        field = str(exc.extra.get("field") or exc.detail.split(":")[0])
        return fail("invalid-messages", field=field, reason=exc.detail)
    return {"ok": True, "event_id": f"{person_id}:{session_id}"}


@router.get("/conversation/{person_id}/{session_id}")
async def get_conversation(person_id: str, session_id: SessionId, ctx: Ctx, svc: Svc,
                           conn: DbConn) -> dict[str, Any]:
    session = await svc.conversations.session(conn, ctx, session_id)
    if session is None:
        return {"messages": []}
    return {"messages": await svc.conversations.all_messages(conn, ctx, session_id),
            "response": session.response, "summary": session.summary,
            "updated_at": epoch(session.updated_at)}
