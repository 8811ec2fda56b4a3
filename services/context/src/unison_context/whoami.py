"""GET /v1/whoami: the caller's verified identity and scope.

Also the benchmarks' floor: an authenticated request that touches no database.
"""

from __future__ import annotations

from pydantic import BaseModel

from unison_shared.compiled_routes import service_router

from .deps import Ctx

router = service_router(prefix="/v1", tags=["identity"])


class WhoAmI(BaseModel):
    sub: str
    tenant_id: str
    person_id: str
    kind: str
    scopes: list[str]


@router.get("/whoami")
async def whoami(ctx: Ctx) -> WhoAmI:
    p = ctx.principal
    return WhoAmI(sub=p.sub, tenant_id=ctx.tenant_id, person_id=ctx.person_id, kind=p.kind,
                  scopes=list(p.scopes))
