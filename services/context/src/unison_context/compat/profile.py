"""Legacy profile and dashboard paths: GET/POST /profile/{person_id} and
/dashboard/{person_id}. `x-test-role` may be sent; it is accepted and ignored."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from unison_shared.compiled_routes import service_router
from unison_shared.database import DbConn, DbTx
from unison_shared.errors import PayloadTooLarge, ValidationFailed

from ..dashboard.service import DashboardInvalid
from ..deps import Ctx, Svc
from ..profiles import rules
from .common import BodyError, epoch, fail, json_object

router = service_router(tags=["legacy"])


@router.get("/profile/{person_id}")
async def get_profile(person_id: str, ctx: Ctx, svc: Svc, conn: DbConn) -> dict[str, Any]:
    doc = await svc.profiles.get(conn, ctx)
    if doc is None:
        return {"ok": True, "profile": None, "profile_redacted": {}, "updated_at": None}
    return {"ok": True, "profile": doc.value, "profile_redacted": rules.redact(doc.value),
            "updated_at": epoch(doc.updated_at)}


@router.post("/profile/{person_id}", response_model=None)
async def post_profile(person_id: str, request: Request, ctx: Ctx, svc: Svc,
                       conn: DbTx) -> dict[str, Any] | JSONResponse:
    try:
        body = await json_object(request, ctx)
    except BodyError as exc:
        return exc.response
    profile = body.get("profile")
    if not isinstance(profile, dict):
        return fail("invalid-profile", field="profile", reason="must be a JSON object")
    try:
        await svc.profiles.replace(conn, ctx, profile)
    except rules.ProfileInvalid as exc:
        return fail("invalid-profile", field=exc.field, reason=exc.reason)
    except PayloadTooLarge:
        return fail("profile-too-large", 413, field="profile")
    except ValidationFailed as exc:
        return fail("invalid-profile", field="profile", reason=exc.detail)
    return {"ok": True, "person_id": person_id}


@router.get("/dashboard/{person_id}")
async def get_dashboard(person_id: str, ctx: Ctx, svc: Svc, conn: DbConn) -> dict[str, Any]:
    doc = await svc.dashboards.get(conn, ctx)
    if doc is None:
        return {"ok": True, "dashboard": None, "updated_at": None}
    return {"ok": True, "dashboard": doc.value, "updated_at": epoch(doc.updated_at)}


@router.post("/dashboard/{person_id}", response_model=None)
async def post_dashboard(person_id: str, request: Request, ctx: Ctx, svc: Svc,
                         conn: DbTx) -> dict[str, Any] | JSONResponse:
    try:
        body = await json_object(request, ctx)
    except BodyError as exc:
        return exc.response
    try:
        await svc.dashboards.replace(conn, ctx, body.get("dashboard"))
    except DashboardInvalid as exc:
        return fail(exc.legacy_code, field=exc.field, reason=exc.extra.get("reason"))
    except PayloadTooLarge:
        return fail("dashboard-too-large", 413, field="dashboard")
    except ValidationFailed as exc:
        return fail("invalid-dashboard", field="dashboard", reason=exc.detail)
    return {"ok": True, "person_id": person_id}
