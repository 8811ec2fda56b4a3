"""Operator routes under /v1/admin/persons: erase a person, export a person.

The kit's identity rule scopes the request to the path's person (a person token only to
its own person; a service token only with persons:act) and to the token's household;
the service decides who may do what (operator tokens erase; operators and the person
export; secrets only to the person themselves)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from fastapi.responses import StreamingResponse

from unison_shared.compiled_routes import service_router
from unison_shared.erasure import ErasureReceipt

from ..deps import Ctx, Svc

router = service_router(prefix="/v1/admin/persons", tags=["persons"])

PersonId = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")]


@router.post("/{person_id}/erasure")
async def erase_person(person_id: PersonId, ctx: Ctx, svc: Svc) -> ErasureReceipt:
    """Remove everything storage holds about the person in the caller's tenant and
    destroy their data keys (operator tokens only). Idempotent: a repeat answers zeros."""
    return await svc.persons.erase(ctx)


@router.get("/{person_id}/export", response_class=StreamingResponse,
            responses={200: {"content": {"application/x-ndjson": {}}}})
async def export_person(person_id: PersonId, ctx: Ctx, svc: Svc,
                        include_secrets: Annotated[bool, Query()] = False
                        ) -> StreamingResponse:
    """Everything storage holds about the person, as NDJSON lines `{"domain", "record"}`
    (an operator token, or the person's own; secrets only to the person's own token
    with include_secrets=true)."""
    lines = await svc.persons.export(ctx, include_secrets)
    return StreamingResponse(lines, media_type="application/x-ndjson",
                             headers={"Cache-Control": "no-store"})
