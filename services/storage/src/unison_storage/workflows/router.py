"""/v1/workflows: suspend, read, list, events, approve, resume (once), cancel."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from unison_shared.compiled_routes import service_router

from ..deps import Ctx, Svc
from .schemas import (
    ApproveIn,
    EventIn,
    Matched,
    Resumed,
    ResumeIn,
    Status,
    SuspendIn,
    Workflow,
    WorkflowId,
    WorkflowPage,
)

router = service_router(prefix="/v1/workflows", tags=["workflows"])
IdParam = Annotated[WorkflowId, Path(description="the caller's id of the workflow run")]


@router.post("/events")
async def send_event(body: EventIn, ctx: Ctx, svc: Svc) -> Matched:
    """Meets the caller's open `event` conditions with this event id: the workflows
    they belong to."""
    async with svc.db.statement(ctx) as conn:
        return Matched(matched=await svc.workflows.event(conn, ctx, body.event_id,
                                                         body.payload))


@router.get("")
async def list_workflows(ctx: Ctx, svc: Svc, status: Annotated[Status | None, Query()] = None,
                         workflow_name: Annotated[str | None, Query(max_length=256)] = None,
                         cursor: Annotated[str | None, Query(max_length=512)] = None,
                         limit: Annotated[int, Query(ge=1, le=500)] = 50) -> WorkflowPage:
    """Newest suspension first."""
    async with svc.db.statement(ctx) as conn:
        return await svc.workflows.page(conn, ctx, status, workflow_name, cursor, limit)


@router.post("/{workflow_id}/suspend", status_code=201)
async def suspend(workflow_id: IdParam, body: SuspendIn, ctx: Ctx, svc: Svc) -> Workflow:
    return await svc.workflows.suspend(ctx, workflow_id, body)


@router.get("/{workflow_id}")
async def get_workflow(workflow_id: IdParam, ctx: Ctx, svc: Svc) -> Workflow:
    async with svc.db.statement(ctx) as conn:
        return await svc.workflows.get(conn, ctx, workflow_id)


@router.post("/{workflow_id}/approve")
async def approve(workflow_id: IdParam, body: ApproveIn, ctx: Ctx, svc: Svc) -> Workflow:
    async with svc.db.transaction(ctx) as conn:
        return await svc.workflows.approve(conn, ctx, workflow_id, body)


@router.post("/{workflow_id}/resume")
async def resume(workflow_id: IdParam, ctx: Ctx, svc: Svc,
                 body: ResumeIn | None = None) -> Resumed:
    async with svc.db.transaction(ctx) as conn:
        return await svc.workflows.resume(conn, ctx, workflow_id,
                                          body.force if body else False)


@router.post("/{workflow_id}/cancel")
async def cancel(workflow_id: IdParam, ctx: Ctx, svc: Svc) -> Workflow:
    async with svc.db.transaction(ctx) as conn:
        return await svc.workflows.cancel(conn, ctx, workflow_id)
