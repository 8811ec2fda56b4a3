"""The person routes of a graph service: `persons_router(service_of)` where `service_of`
finds the app's PersonGraphService. POST /v1/admin/persons/{person_id}/erasure (operator)
and GET .../export (operator or the person's own token)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from ...auth import RequestContext, authenticated, require_export_access, require_operator
from ...erasure import ErasureReceipt
from ..schemas import NodeId
from .service import PersonGraphService

Ctx = Annotated[RequestContext, Depends(authenticated)]


def persons_router(service_of: Callable[[Request], PersonGraphService]) -> APIRouter:
    router = APIRouter(prefix="/v1/admin/persons", tags=["persons"])
    # A default, not an Annotated alias: string annotations resolve in module globals,
    # where this closure's dependency is not.
    svc_dep = Depends(service_of)

    @router.post("/{person_id}/erasure")
    async def erase_person(person_id: NodeId, ctx: Ctx,
                           svc: PersonGraphService = svc_dep) -> ErasureReceipt:
        """Delete the person's node, every node only they own and their relationships,
        strip their id from what stays, purge the caches; idempotent."""
        require_operator(ctx)
        return ErasureReceipt(**await svc.erase(ctx))

    @router.get("/{person_id}/export", response_class=StreamingResponse)
    async def export_person(person_id: NodeId, ctx: Ctx,
                            include_secrets: Annotated[bool, Query()] = False,
                            svc: PersonGraphService = svc_dep) -> StreamingResponse:
        """One JSON line per node and per relationship (the graph holds no secrets)."""
        require_export_access(ctx, include_secrets)
        return StreamingResponse(await svc.export(ctx), media_type="application/x-ndjson")

    return router
