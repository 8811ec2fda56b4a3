"""`/v1/intents`: create, read, transition, produced resources, lineage."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from unison_shared.graph_api.schemas import NodeId

from ..deps import Ctx, Svc
from .schemas import IntentCreate, IntentOut, Lineage, Produced, Transition

router = APIRouter(prefix="/v1/intents", tags=["intents"])
IdParam = Annotated[NodeId, Path()]


@router.post("", status_code=201)
async def create_intent(body: IntentCreate, ctx: Ctx, svc: Svc) -> IntentOut:
    return await svc.intents.create(ctx.tenant_id, body)


@router.get("/{intent_id}")
async def get_intent(intent_id: IdParam, ctx: Ctx, svc: Svc) -> IntentOut:
    return await svc.intents.get(ctx.tenant_id, intent_id)


@router.post("/{intent_id}/transitions")
async def transition(intent_id: IdParam, body: Transition, ctx: Ctx, svc: Svc) -> IntentOut:
    """Move the intent along created -> routed -> running -> completed | failed |
    cancelled; any other move is 409."""
    return await svc.intents.transition(ctx.tenant_id, intent_id, body)


@router.post("/{intent_id}/produced")
async def produced(intent_id: IdParam, body: Produced, ctx: Ctx, svc: Svc) -> IntentOut:
    return await svc.intents.produced(ctx.tenant_id, intent_id, body)


@router.get("/{intent_id}/lineage")
async def lineage(intent_id: IdParam, ctx: Ctx, svc: Svc,
                  depth: Annotated[int, Query()] = 3,
                  direction: Annotated[Literal["up", "down", "both"], Query()] = "both"
                  ) -> Lineage:
    return await svc.intents.lineage(ctx.tenant_id, intent_id, depth, direction)
