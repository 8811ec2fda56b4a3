"""POST /caps/report, GET /caps/latest, POST /gesture/select, GET /gesture/latest:
per person when the token names one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request

from unison_shared.graph_runtime import caller

from ..deps import Ctx, Svc
from ..reports.schemas import GestureSelect

router = APIRouter(tags=["legacy"])


@router.post("/caps/report")
async def caps_report(request: Request, ctx: Ctx, svc: Svc,
                      body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    updated_at = await svc.reports.report_caps(caller(request, ctx), ctx.person_id or None,
                                               body)
    return {"ok": True, "stored": True, "updated_at": updated_at}


@router.get("/caps/latest")
async def caps_latest(request: Request, ctx: Ctx, svc: Svc) -> dict[str, Any]:
    found = await svc.reports.latest_caps(caller(request, ctx), ctx.person_id or None)
    found = found or {}
    return {"ok": True, "caps": found.get("caps") or {}, "updated_at": found.get("updated_at")}


@router.post("/gesture/select")
async def gesture_select(body: GestureSelect, request: Request, ctx: Ctx,
                         svc: Svc) -> dict[str, Any]:
    ts = await svc.reports.select_gesture(caller(request, ctx),
                                          body.person_id or ctx.person_id or None, body)
    return {"ok": True, "stored": True, "ts": ts}


@router.get("/gesture/latest")
async def gesture_latest(request: Request, ctx: Ctx, svc: Svc) -> dict[str, Any]:
    found = await svc.reports.latest_gesture(caller(request, ctx), ctx.person_id or None)
    return {"ok": True, "gesture": found}
