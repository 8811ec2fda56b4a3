"""Metric rules: time-series points (value a finite float, labels a string map, time
defaulting to now), recorded one at a time or in batches of up to 1000, queried newest
first by entity, metric, thread, time range and labels, and aggregated per UTC bucket."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import orjson

from unison_shared.auth import RequestContext
from unison_shared.errors import BadRequest, ValidationFailed

from ..threads import cursor as cursors
from ..threads.service import new_id
from . import repository as repo
from .repository import MetricFilter
from .schemas import Aggregates, Bucket, Metric, MetricIn, MetricPage

_CURSOR = "x"
MAX_BUCKETS = 10_000


def labels_filter(pairs: list[str] | None) -> str | None:
    """`key:value` query pairs as the jsonb every matching point's labels contain."""
    if not pairs:
        return None
    labels: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition(":")
        if not sep or not key:
            raise BadRequest(f"label: {pair!r} is not key:value")
        labels[key] = value
    return orjson.dumps(labels).decode()


class MetricService:
    async def record(self, conn: asyncpg.Connection, ctx: RequestContext,
                     points: list[MetricIn]) -> list[Metric]:
        rows: list[dict[str, Any]] = [
            {"id": new_id("metric"), "et": p.entity_type, "en": p.entity_name,
             "th": p.thread_id, "mn": p.metric_name, "v": p.value, "l": p.labels,
             "ts": p.timestamp.isoformat() if p.timestamp else None} for p in points]
        stored = await repo.insert_many(conn, ctx.tenant_id, ctx.person_id,
                                        orjson.dumps(rows).decode())
        return [stored[row["id"]] for row in rows]

    async def query(self, conn: asyncpg.Connection, ctx: RequestContext, f: MetricFilter,
                    cursor: str | None, limit: int) -> MetricPage:
        after: tuple[datetime, str] | None = None
        if cursor:
            at, metric_id = cursors.decode(_CURSOR, cursor, 2)
            try:
                after = datetime.fromisoformat(str(at)), str(metric_id)
            except ValueError as exc:
                raise BadRequest("cursor: not one this service issued") from exc
        rows = await repo.query(conn, ctx.tenant_id, ctx.person_id, f, after, 0, limit + 1)
        items = rows[:limit]
        next_cursor = (cursors.encode(_CURSOR, items[-1].timestamp.isoformat(), items[-1].id)
                       if len(rows) > limit else None)
        return MetricPage(items=items, next_cursor=next_cursor)

    async def page(self, conn: asyncpg.Connection, ctx: RequestContext, f: MetricFilter,
                   offset: int, limit: int) -> list[Metric]:
        return await repo.query(conn, ctx.tenant_id, ctx.person_id, f, None, offset, limit)

    async def aggregate(self, conn: asyncpg.Connection, ctx: RequestContext, f: MetricFilter,
                        bucket: Bucket) -> Aggregates:
        assert f.metric_name is not None
        items = await repo.aggregate(conn, ctx.tenant_id, ctx.person_id, f, bucket,
                                     MAX_BUCKETS + 1)
        if len(items) > MAX_BUCKETS:
            raise ValidationFailed(f"start, end: more than {MAX_BUCKETS} {bucket} buckets; "
                                   "narrow the range or take a larger bucket")
        return Aggregates(metric_name=f.metric_name, bucket=bucket, items=items)
