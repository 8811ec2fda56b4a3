"""Traces under /v1/traces: an OTLP/HTTP receiver (point an OpenTelemetry SDK's OTLP
exporter at `<storage>/v1/traces` with the bearer token as a header), a simple record
call, trace summaries and one trace as its span tree."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Query, Request, Response

from unison_shared.compiled_routes import service_router

from ..deps import Ctx, Svc
from .repository import TraceFilter
from .schemas import Recorded, RecordIn, Status, Trace, TracePage
from .service import attribute_filters

router = service_router(prefix="/v1/traces", tags=["traces"])
Name = Annotated[str | None, Query(max_length=512)]


@router.post("", response_class=Response, responses={200: {"content": {
    "application/x-protobuf": {}, "application/json": {}}}},
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
        "application/json": {"schema": {"type": "object"}}}}})
async def export_traces(request: Request, ctx: Ctx, svc: Svc) -> Response:
    """OTLP/HTTP: an ExportTraceServiceRequest as protobuf or JSON; the reply is OTLP's,
    in the same encoding, with `partial_success` counting spans that were refused."""
    content_type = request.headers.get("content-type", "application/json")
    body, media_type = await svc.traces.ingest(ctx, await request.body(), content_type)
    return Response(content=body, media_type=media_type)


@router.post("/records", status_code=201)
async def record_trace(body: RecordIn, ctx: Ctx, svc: Svc) -> Recorded:
    return await svc.traces.record(ctx, body)


@router.get("", openapi_extra={"parameters": [{
    "name": "attr.<key>", "in": "query", "required": False, "schema": {"type": "string"},
    "description": "attribute equality, e.g. attr.gen_ai.request.model=gpt-4o (up to 5)"}]})
async def search_traces(request: Request, ctx: Ctx, svc: Svc, component: Name = None,
                        operation: Name = None, status: Status | None = None,
                        since: datetime | None = None, until: datetime | None = None,
                        cursor: Annotated[str | None, Query(max_length=512)] = None,
                        limit: Annotated[int, Query(ge=1, le=500)] = 50) -> TracePage:
    """Trace summaries, newest first; a trace matches when one of its spans matches
    every filter."""
    f = TraceFilter(component=component, operation=operation, status=status, since=since,
                    until=until, attributes=attribute_filters(request.query_params))
    return await svc.traces.search(ctx, f, cursor, limit)


@router.get("/{trace_id}")
async def get_trace(trace_id: str, ctx: Ctx, svc: Svc) -> Trace:
    return await svc.traces.get(ctx, trace_id)
