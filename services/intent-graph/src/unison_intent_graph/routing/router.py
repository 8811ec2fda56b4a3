"""`/v1/routing/candidates`: ranked handlers for an intent type."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from unison_shared.graph_api.schemas import NodeId

from ..deps import Ctx, Svc
from .schemas import Candidates

router = APIRouter(prefix="/v1/routing", tags=["routing"])


@router.get("/candidates")
async def candidates(ctx: Ctx, svc: Svc,
                     intent_type: Annotated[str, Query(min_length=1, max_length=200)],
                     person_id: Annotated[NodeId | None, Query()] = None,
                     device_id: Annotated[NodeId | None, Query()] = None,
                     limit: Annotated[int, Query(ge=1, le=100)] = 10) -> Candidates:
    return await svc.routing.candidates(ctx.tenant_id, intent_type, person_id, device_id,
                                        limit)
