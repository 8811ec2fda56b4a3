"""POST /context/update and /context/query."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from unison_shared.errors import NotFound
from unison_shared.graph_runtime import caller

from ..context.schemas import ContextQuery, ContextUpdate
from ..deps import Ctx, Svc

router = APIRouter(tags=["legacy"])


@router.post("/context/update")
async def update(body: ContextUpdate, request: Request, ctx: Ctx,
                 svc: Svc) -> dict[str, Any]:
    return {"state": await svc.context.update(caller(request, ctx), body)}


@router.post("/context/query")
async def query(body: ContextQuery, request: Request, ctx: Ctx,
                svc: Svc) -> dict[str, Any]:
    state = await svc.context.query(caller(request, ctx), body.user_id)
    if state is None:
        raise NotFound(f"no context for {body.user_id}")
    return {"state": state}
