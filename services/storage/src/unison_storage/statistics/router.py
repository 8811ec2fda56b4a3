"""/v1/statistics: rows and bytes per data class for the caller's household; with
`scope=all`, every tenant's totals (a service token with the admin role)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query

from unison_shared.compiled_routes import service_router
from unison_shared.database import asyncpg_of
from unison_shared.errors import Forbidden

from ..deps import Ctx, Svc
from . import repository as repo
from .schemas import ClassStats, Statistics

ADMIN_ROLE = "admin"
router = service_router(prefix="/v1/statistics", tags=["statistics"])


@router.get("")
async def statistics(ctx: Ctx, svc: Svc,
                     scope: Annotated[Literal["tenant", "all"], Query()] = "tenant"
                     ) -> Statistics:
    """Counts scan the rows: an operator's view, not a hot path."""
    if scope == "all":
        if not (ctx.principal.is_service and ADMIN_ROLE in ctx.principal.roles):
            raise Forbidden("scope=all needs a service token with the admin role")
        async with svc.db.system() as conn:
            found = await repo.counts(await asyncpg_of(conn), None)
    else:
        async with svc.db.statement(ctx) as pg:
            found = await repo.counts(pg, ctx.tenant_id)
    classes = {k: ClassStats(rows=r, bytes=b) for k, (r, b) in found["classes"].items()}
    return Statistics(scope=scope, tenant_id=ctx.tenant_id if scope == "tenant" else None,
                      tenants=found["tenants"], classes=classes,
                      workflows_by_status=found["workflows_by_status"],
                      bytes_total=sum(c.bytes for c in classes.values()))
