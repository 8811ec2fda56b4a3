"""Legacy memory paths (contract.md): POST /memory, GET and DELETE /memory/{session_id}.

They share the /v1 sessions: an entry written here is the session's latest entry there.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import Body
from fastapi.responses import JSONResponse

from unison_shared.compiled_routes import service_router
from unison_shared.errors import UnisonError
from unison_shared.jsonutil import storable_text

from ..deps import Ctx, Svc
from ..memory.schemas import DEFAULT_KEYSPACE, SessionId
from .common import fail

router = service_router(tags=["legacy"])

_INVALID_SESSION = "invalid-session_id"


def _ttl(body: dict[str, Any]) -> int | str | None:
    """The requested TTL in whole seconds (rounded up), None when absent, or an error."""
    raw = body.get("ttl")
    if raw is None:
        raw = body.get("ttl_seconds")
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        return "invalid-ttl"
    seconds = math.ceil(raw)
    return seconds if seconds > 0 else "invalid-ttl"


def _valid_session(value: Any) -> bool:
    if not isinstance(value, str) or not 0 < len(value) <= 256:
        return False
    try:
        storable_text(value)
    except ValueError:
        return False
    return not any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)


@router.post("/memory", response_model=None)
async def write(body: Annotated[dict[str, Any], Body()], ctx: Ctx,
                svc: Svc) -> dict[str, Any] | JSONResponse:
    session_id = body.get("session_id")
    if session_id is None or session_id == "":
        return fail("missing-session_id", 400)
    if body.get("data") is None:
        return fail("missing-data", 400)
    if not _valid_session(session_id):
        return fail(_INVALID_SESSION, 400)
    ttl = _ttl(body)
    if isinstance(ttl, str):
        return fail(ttl, 400)
    try:
        await svc.memory.write(ctx, session_id, body["data"], None, DEFAULT_KEYSPACE, ttl)
    except UnisonError as exc:
        error = "invalid-ttl" if exc.detail.startswith("ttl_seconds") else exc.code
        return fail(error, 413 if exc.status == 413 else 400, detail=exc.detail)
    return {"ok": True, "session_id": session_id}


@router.get("/memory/{session_id}", response_model=None)
async def read_latest(session_id: SessionId, ctx: Ctx, svc: Svc) -> dict[str, Any] | JSONResponse:
    entry, state = await svc.memory.latest_state(ctx, session_id)
    if entry is None:
        return fail(state)
    return {"ok": True, "data": entry.payload}


@router.delete("/memory/{session_id}")
async def delete(session_id: SessionId, ctx: Ctx, svc: Svc) -> dict[str, Any]:
    await svc.memory.delete_session(ctx, session_id)
    return {"ok": True}
