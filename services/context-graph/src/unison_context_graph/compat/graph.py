"""POST /graph/nodes and /graph/relations: labels and types from the schema's
allow-list, properties through the privacy check; failures in the legacy shape."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from unison_shared.errors import UnisonError
from unison_shared.graph_api.legacy import legacy_error
from unison_shared.graph_api.schemas import NodeIn, RelIn

from ..deps import Ctx, Svc

router = APIRouter(tags=["legacy"])


@router.post("/graph/nodes", response_model=None)
async def nodes(body: NodeIn, ctx: Ctx, svc: Svc) -> dict[str, Any] | JSONResponse:
    try:
        await svc.traversal.upsert_nodes(ctx.tenant_id, [body])
    except UnisonError as exc:
        return legacy_error(exc)
    return {"ok": True}


@router.post("/graph/relations", response_model=None)
async def relations(body: RelIn, ctx: Ctx, svc: Svc) -> dict[str, Any] | JSONResponse:
    try:
        await svc.traversal.upsert_rels(ctx.tenant_id, [body])
    except UnisonError as exc:
        return legacy_error(exc)
    return {"ok": True}
