"""Operator routes: POST /v1/admin/persons/{person_id}/erasure and GET .../export
(also for the person's own token). The kit's identity rule scopes the request to the
path's person and the token's household."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import StreamingResponse

from unison_shared.auth import require_export_access, require_operator
from unison_shared.compiled_routes import service_router
from unison_shared.database import DbTx, database_of
from unison_shared.erasure import ErasureReceipt

from ..deps import Ctx, Svc
from .service import PersonDataService

router = service_router(prefix="/v1/admin/persons", tags=["persons"])


@router.post("/{person_id}/erasure")
async def erase_person(person_id: str, ctx: Ctx, svc: Svc, conn: DbTx) -> ErasureReceipt:
    """Remove everything of the person in the tenant and destroy their data keys, in one
    transaction; idempotent (a repeat answers zeros)."""
    require_operator(ctx)
    return await PersonDataService(svc).erase(conn, ctx)


@router.get("/{person_id}/export", response_class=StreamingResponse)
async def export_person(person_id: str, request: Request, ctx: Ctx, svc: Svc,
                        include_secrets: Annotated[bool, Query()] = False
                        ) -> StreamingResponse:
    """Everything held about the person, one `{"domain", "record"}` JSON object a line."""
    require_export_access(ctx, include_secrets)
    lines = PersonDataService(svc).export(database_of(request), ctx, include_secrets)
    return StreamingResponse(lines, media_type="application/x-ndjson")
