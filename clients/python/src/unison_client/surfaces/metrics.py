"""Metrics: record points one at a time or in batches, query them, aggregate per bucket."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from .._http import route
from ..models import Aggregates, Bucket, Metric, MetricBatch, MetricIn, MetricPage, Recorded
from ._base import Surface, body, parse

METRIC_RECORD = route("POST", "/v1/metrics")
METRIC_BATCH = route("POST", "/v1/metrics/batch")
METRIC_QUERY = route("GET", "/v1/metrics")
METRIC_AGGREGATE = route("GET", "/v1/metrics/aggregate")


def _filters(
    entity_type: str | None,
    entity_name: str | None,
    thread_id: str | None,
    start: datetime | None,
    end: datetime | None,
    labels: dict[str, str] | None,
) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = [
        ("entity_type", entity_type),
        ("entity_name", entity_name),
        ("thread_id", thread_id),
        ("start", start),
        ("end", end),
    ]
    return out + [("label", f"{k}:{v}") for k, v in (labels or {}).items()]


class Metrics(Surface):
    async def record(
        self,
        entity_type: str,
        entity_name: str,
        metric_name: str,
        value: float,
        *,
        thread_id: str | None = None,
        labels: dict[str, str] | None = None,
        timestamp: datetime | None = None,
    ) -> Metric:
        model = MetricIn.model_construct(
            entity_type=entity_type,
            entity_name=entity_name,
            metric_name=metric_name,
            value=value,
            thread_id=thread_id,
            labels=labels or {},
            timestamp=timestamp,
        )
        r = await self._http.request(METRIC_RECORD, json=body(model))
        return parse(Metric, r.content)

    async def record_batch(self, points: Sequence[MetricIn]) -> Recorded:
        r = await self._http.request(
            METRIC_BATCH, json=body(MetricBatch.model_construct(points=list(points)))
        )
        return parse(Recorded, r.content)

    async def query(
        self,
        *,
        metric_name: str | None = None,
        entity_type: str | None = None,
        entity_name: str | None = None,
        thread_id: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        labels: dict[str, str] | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> MetricPage:
        query = _filters(entity_type, entity_name, thread_id, start, end, labels)
        query += [("metric_name", metric_name), ("cursor", cursor), ("limit", limit)]
        r = await self._http.request(METRIC_QUERY, query=query)
        return parse(MetricPage, r.content)

    async def aggregate(
        self,
        metric_name: str,
        *,
        bucket: Bucket = "1h",
        entity_type: str | None = None,
        entity_name: str | None = None,
        thread_id: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        labels: dict[str, str] | None = None,
    ) -> Aggregates:
        query = _filters(entity_type, entity_name, thread_id, start, end, labels)
        query += [("metric_name", metric_name), ("bucket", bucket)]
        r = await self._http.request(METRIC_AGGREGATE, query=query)
        return parse(Aggregates, r.content)
