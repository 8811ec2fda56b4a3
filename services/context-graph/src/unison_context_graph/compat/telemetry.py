"""POST /telemetry/actuation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from unison_shared.graph_runtime import caller

from ..deps import Ctx, Svc
from ..telemetry.schemas import Actuation

router = APIRouter(tags=["legacy"])


@router.post("/telemetry/actuation")
async def actuation(body: Actuation, request: Request, ctx: Ctx,
                    svc: Svc) -> dict[str, Any]:
    await svc.telemetry.record(caller(request, ctx), body)
    return {"ok": True}
