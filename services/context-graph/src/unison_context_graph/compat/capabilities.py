"""GET and POST /capabilities?person_id= (a device manifest or a published tool list)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request

from unison_shared.graph_api.schemas import NodeId
from unison_shared.graph_runtime import caller

from ..deps import Ctx, Svc

router = APIRouter(tags=["legacy"])
PersonParam = Annotated[NodeId | None, Query()]


@router.get("/capabilities")
async def get_capabilities(request: Request, ctx: Ctx, svc: Svc,
                           person_id: PersonParam = None) -> dict[str, Any]:
    return await svc.capabilities.get(caller(request, ctx), person_id or ctx.person_id or None)


@router.post("/capabilities")
async def post_capabilities(request: Request, ctx: Ctx, svc: Svc,
                            body: Annotated[dict[str, Any], Body()],
                            person_id: PersonParam = None) -> dict[str, Any]:
    doc = await svc.capabilities.publish(caller(request, ctx),
                                         person_id or ctx.person_id or None, body)
    out: dict[str, Any] = {"ok": True, "updated_at": doc.get("updated_at")}
    if isinstance(doc.get("capabilities"), list):
        out["count"] = len(doc["capabilities"])
    return out
