"""Audit API under /v1/audit.

Lists are newest first (descending seq) unless `order=asc`; the cursor is opaque and
remembers the order it was issued for. `since` is inclusive, `until` exclusive; times
without an offset are UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import Path, Query, Response

from unison_shared.compiled_routes import service_router
from unison_shared.errors import NotFound

from ..deps import Ctx, Svc
from .repository import EventFilter
from .schemas import (
    AuditEvent,
    AuditEventIn,
    AuditPage,
    Checkpoint,
    CheckpointPage,
    EventId,
    Text,
    VerifyRequest,
    VerifyResult,
)

router = service_router(prefix="/v1/audit", tags=["audit"])

QText = Annotated[Text | None, Query(max_length=512)]


@router.post("", status_code=201)
async def append_event(body: AuditEventIn, ctx: Ctx, svc: Svc,
                       response: Response) -> AuditEvent:
    """201 with the new event; 200 with the original when `id` was already appended."""
    event, created = await svc.audit.record(ctx, body)
    response.status_code = 201 if created else 200
    return event


@router.get("")
async def list_events(ctx: Ctx, svc: Svc, actor: QText = None, action: QText = None,
                      target: QText = None, person_id: QText = None,
                      since: datetime | None = None, until: datetime | None = None,
                      order: Literal["desc", "asc"] = "desc",
                      cursor: Annotated[str | None, Query(max_length=256)] = None,
                      limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> AuditPage:
    f = EventFilter(actor=actor, action=action, target=target, person_id=person_id,
                    since=since, until=until)
    return await svc.audit.list(ctx, f, cursor, limit, ascending=order == "asc")


@router.post("/verify")
async def verify_chain(ctx: Ctx, svc: Svc, body: VerifyRequest | None = None) -> VerifyResult:
    """Recompute the tenant's whole hash chain and hold it against every signed
    checkpoint, and against `checkpoint` when the caller kept one (a verdict only, never
    content). POST, not GET, so it cannot shadow an event whose id is `verify`."""
    kept = body.checkpoint if body is not None else None
    return await svc.checkpoints.verify(ctx, svc.audit, kept)


@router.get("/checkpoints")
async def list_checkpoints(ctx: Ctx, svc: Svc,
                           cursor: Annotated[str | None, Query(max_length=32)] = None,
                           limit: Annotated[int, Query(ge=1, le=1000)] = 100
                           ) -> CheckpointPage:
    """The tenant's signed checkpoints, newest first, with the public key that checks
    them. Keep copies: a checkpoint held outside the platform proves the chain up to it
    even against someone who can rewrite the database."""
    return await svc.checkpoints.page(ctx, cursor, limit)


@router.post("/checkpoints", status_code=201)
async def create_checkpoint(ctx: Ctx, svc: Svc) -> Checkpoint:
    """Sign the tenant's chain head now (404 while the tenant has no events)."""
    return await svc.checkpoints.create(ctx)


@router.get("/{event_id}")
async def get_event(event_id: Annotated[EventId, Path()], ctx: Ctx, svc: Svc) -> AuditEvent:
    event = await svc.audit.get(ctx, event_id)
    if event is None:
        raise NotFound(f"no audit event {event_id}")
    return event
