"""Legacy POST /audit (contract.md): `{"action", "id"?, "actor"?, ...}` -> `{"ok", "id"}`.

Keys the event model does not know are kept in the event's payload (merged over a
`payload` object when one is sent), so nothing a legacy caller recorded is dropped.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from unison_shared.compiled_routes import service_router
from unison_shared.errors import UnisonError

from ..audit.schemas import AuditEventIn
from ..deps import Ctx, Svc
from .common import fail

router = service_router(tags=["legacy"])

_FIELDS = ("id", "actor", "action", "target", "decision_id", "status", "person_id")


@router.post("/audit", response_model=None)
async def append(body: Annotated[dict[str, Any], Body()], ctx: Ctx,
                 svc: Svc) -> dict[str, Any] | JSONResponse:
    if not body.get("action"):
        return fail("missing-action", 400)
    payload = body.get("payload")
    extra = {k: v for k, v in body.items() if k not in (*_FIELDS, "payload")}
    if not isinstance(payload, dict):
        if payload is not None:
            extra["payload"] = payload
        payload = {}
    fields = {k: body[k] for k in _FIELDS if body.get(k) is not None}
    try:
        event = AuditEventIn(**fields, payload={**payload, **extra})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "body"
        return fail(f"invalid-{field}", 400, detail=f"{field}: {first['msg']}")
    try:
        appended, _ = await svc.audit.record(ctx, event)
    except UnisonError as exc:
        return fail(exc.code, exc.status, detail=exc.detail)
    return {"ok": True, "id": appended.id}
