"""POST /traces/replay and /traces/search."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from unison_shared.graph_runtime import caller

from ..deps import Ctx, Svc
from ..traces.schemas import TraceReplay, TraceSearch

router = APIRouter(tags=["legacy"])


@router.post("/traces/replay")
async def replay(body: TraceReplay, request: Request, ctx: Ctx,
                 svc: Svc) -> dict[str, Any]:
    state = await svc.traces.replay(caller(request, ctx), body.user_id, body.trace)
    return {"state": state}


@router.post("/traces/search")
async def search(body: TraceSearch, request: Request, ctx: Ctx,
                 svc: Svc) -> dict[str, Any]:
    found = await svc.traces.search(caller(request, ctx), body.user_id, body.tags,
                                    body.since, body.limit)
    return {"traces": found}
