"""GET /v1/whoami, on every service: the caller's verified identity and scope.

Also each service's benchmark floor: an authenticated request that touches no database.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from .auth import RequestContext, authenticated
from .compiled_routes import service_router


class WhoAmI(BaseModel):
    sub: str
    tenant_id: str
    person_id: str
    kind: str
    scopes: list[str]


def whoami_router() -> APIRouter:
    router = service_router(prefix="/v1", tags=["identity"])

    @router.get("/whoami")
    async def whoami(ctx: Annotated[RequestContext, Depends(authenticated)]) -> WhoAmI:
        p = ctx.principal
        return WhoAmI(sub=p.sub, tenant_id=ctx.tenant_id, person_id=ctx.person_id,
                      kind=p.kind, scopes=list(p.scopes))

    return router
