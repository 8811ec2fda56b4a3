"""GET /v1/whoami: the caller's verified identity and scope.

Also the benchmarks' floor: an authenticated request that touches no database.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from .deps import Ctx

router = APIRouter(prefix="/v1", tags=["identity"])


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
