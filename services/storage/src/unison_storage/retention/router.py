"""/v1/retention/policies (the caller's tenant; changing them needs the admin role) and
/v1/maintenance/run (platform-wide: a service token with the admin role)."""

from __future__ import annotations

from unison_shared.compiled_routes import service_router
from unison_shared.errors import Forbidden

from ..deps import Ctx, Svc
from .schemas import Policies, PoliciesIn, Report, RunIn

ADMIN_ROLE = "admin"
router = service_router(prefix="/v1", tags=["retention"])


@router.get("/retention/policies")
async def get_policies(ctx: Ctx, svc: Svc) -> Policies:
    return await svc.retention.policies(ctx)


@router.put("/retention/policies")
async def put_policies(body: PoliciesIn, ctx: Ctx, svc: Svc) -> Policies:
    if ADMIN_ROLE not in ctx.principal.roles:
        raise Forbidden("changing retention policies needs the admin role")
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    return await svc.retention.set_policies(ctx, changes)


@router.post("/maintenance/run")
async def run_maintenance(body: RunIn, ctx: Ctx, svc: Svc) -> Report:
    """Deletes (or with `dry_run` counts) what every tenant's policies expire; 409 while
    another run holds the lock."""
    if not (ctx.principal.is_service and ADMIN_ROLE in ctx.principal.roles):
        raise Forbidden("a maintenance run needs a service token with the admin role")
    return await svc.retention.run(body.dry_run, list(body.classes) if body.classes else None)
