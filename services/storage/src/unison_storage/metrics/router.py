"""/v1/metrics: record one point or a batch, query points, aggregate per bucket."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from pydantic import AwareDatetime

from unison_shared.compiled_routes import service_router

from ..deps import Ctx, Svc
from .repository import MetricFilter
from .schemas import Aggregates, Bucket, Metric, MetricBatch, MetricIn, MetricPage, Recorded
from .service import labels_filter

router = service_router(prefix="/v1/metrics", tags=["metrics"])

Text = Annotated[str | None, Query(max_length=256)]
Time = Annotated[AwareDatetime | None, Query()]
Labels = Annotated[list[str] | None, Query(max_length=50,
                                           description="key:value, every one must match")]


@router.post("", status_code=201)
async def record_metric(body: MetricIn, ctx: Ctx, svc: Svc) -> Metric:
    async with svc.db.statement(ctx) as conn:
        return (await svc.metrics.record(conn, ctx, [body]))[0]


@router.post("/batch", status_code=201)
async def record_batch(body: MetricBatch, ctx: Ctx, svc: Svc) -> Recorded:
    async with svc.db.statement(ctx) as conn:
        items = await svc.metrics.record(conn, ctx, body.points)
        return Recorded(recorded=len(items), items=items)


@router.get("")
async def query_metrics(ctx: Ctx, svc: Svc, entity_type: Text = None,
                        entity_name: Text = None, thread_id: Text = None,
                        metric_name: Text = None, start: Time = None, end: Time = None,
                        label: Labels = None,
                        cursor: Annotated[str | None, Query(max_length=512)] = None,
                        limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> MetricPage:
    async with svc.db.statement(ctx) as conn:
        f = MetricFilter(entity_type, entity_name, thread_id, metric_name, start, end,
                         labels_filter(label))
        return await svc.metrics.query(conn, ctx, f, cursor, limit)


@router.get("/aggregate")
async def aggregate_metrics(ctx: Ctx, svc: Svc,
                            metric_name: Annotated[str, Query(min_length=1, max_length=256)],
                            bucket: Annotated[Bucket, Query()] = "1h",
                            entity_type: Text = None, entity_name: Text = None,
                            thread_id: Text = None, start: Time = None, end: Time = None,
                            label: Labels = None) -> Aggregates:
    async with svc.db.statement(ctx) as conn:
        f = MetricFilter(entity_type, entity_name, thread_id, metric_name, start, end,
                         labels_filter(label))
        return await svc.metrics.aggregate(conn, ctx, f, bucket)
