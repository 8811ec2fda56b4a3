"""Legacy context KV: POST /kv/put, /kv/get, /kv/set and /profile.export."""

from __future__ import annotations

import time
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from unison_shared.compiled_routes import service_router
from unison_shared.database import DbConn, DbTx
from unison_shared.errors import PayloadTooLarge, UnisonError, ValidationFailed

from ..deps import Ctx, Svc
from ..kv.service import KVInvalid, validate_put
from .common import BodyError, event_id, fail, json_object

router = service_router(tags=["legacy"])


def _refused(exc: UnisonError) -> JSONResponse:
    if isinstance(exc, KVInvalid):
        return fail(exc.legacy_code, field=exc.field, reason=exc.extra.get("reason"))
    if isinstance(exc, PayloadTooLarge):
        return fail("too-large", 413, reason=exc.detail)
    return fail("invalid-items", field=str(exc.detail).split(":")[0], reason=exc.detail)


@router.post("/kv/put", response_model=None)
async def kv_put(request: Request, ctx: Ctx, svc: Svc,
                 conn: DbTx) -> dict[str, Any] | JSONResponse:
    try:
        body = await json_object(request, ctx)
        items = validate_put(body.get("person_id"), body.get("tier"), body.get("items"))
        count = await svc.kv.put(conn, ctx, body["tier"], items)
    except BodyError as exc:
        return exc.response
    except (ValidationFailed, PayloadTooLarge) as exc:
        return _refused(exc)
    return {"ok": True, "event_id": event_id(request), "count": count}


@router.post("/kv/get", response_model=None)
async def kv_get(request: Request, ctx: Ctx, svc: Svc,
                 conn: DbConn) -> dict[str, Any] | JSONResponse:
    try:
        body = await json_object(request, ctx)
        values = await svc.kv.get(conn, ctx, body.get("keys"))
    except BodyError as exc:
        return exc.response
    except ValidationFailed as exc:
        return _refused(exc)
    return {"ok": True, "values": values, "event_id": event_id(request)}


@router.post("/kv/set", response_model=None)
async def kv_set(request: Request, ctx: Ctx, svc: Svc,
                 conn: DbTx) -> dict[str, Any] | JSONResponse:
    try:
        body = await json_object(request, ctx)
        if "key" not in body:
            return fail("invalid-key", field="key", reason="required")
        await svc.kv.set(conn, ctx, body["key"], body.get("value"))
    except BodyError as exc:
        return exc.response
    except (ValidationFailed, PayloadTooLarge) as exc:
        if isinstance(exc, KVInvalid):
            return fail("invalid-key", field="key", reason=exc.extra.get("reason"))
        return _refused(exc)
    return {"ok": True, "event_id": event_id(request)}


@router.post("/profile.export", response_model=None)
async def profile_export(request: Request, ctx: Ctx, svc: Svc,
                         conn: DbConn) -> dict[str, Any] | JSONResponse:
    try:
        body = await json_object(request, ctx)
    except BodyError as exc:
        return exc.response
    person_id = body.get("person_id")
    if not isinstance(person_id, str) or not person_id:
        return fail("invalid-person_id", field="person_id", reason="must be a non-empty string")
    items = await svc.kv.export_profile(conn, ctx)
    return {"ok": True, "person_id": person_id, "exported_at": time.time(), "items": items}
