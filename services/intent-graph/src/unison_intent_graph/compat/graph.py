"""POST /graph/intent: an agent HANDLES an intent (created when new) requested by a
person; failures in the legacy shape."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from unison_shared.errors import UnisonError, ValidationFailed
from unison_shared.graph_api.legacy import legacy_error
from unison_shared.graph_api.schemas import NodeId

from ..deps import Ctx, Svc
from ..intents.schemas import IntentCreate

router = APIRouter(tags=["legacy"])


class LegacyIntent(BaseModel):
    intent_id: NodeId | None = None
    person_id: NodeId
    agent_id: NodeId
    name: str = Field(min_length=1, max_length=200)
    rel_type: str = "HANDLES"


@router.post("/graph/intent", response_model=None)
async def graph_intent(body: LegacyIntent, ctx: Ctx, svc: Svc
                       ) -> dict[str, Any] | JSONResponse:
    try:
        if body.rel_type != "HANDLES":
            raise ValidationFailed("rel_type: an agent is linked to an intent by HANDLES",
                                   field="rel_type")
        intent = await svc.intents.create(
            ctx.tenant_id, IntentCreate(id=body.intent_id, type=body.name,
                                        person_id=body.person_id))
        await svc.intents.link_handler(ctx.tenant_id, intent.id, body.agent_id)
    except UnisonError as exc:
        return legacy_error(exc)
    return {"ok": True, "intent_id": intent.id}
