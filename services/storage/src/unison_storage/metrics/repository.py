"""SQL for agent_metrics: batch insert in one statement (arrays unnested), queries that
follow the (tenant, person, entity, metric, time) index, bucketed aggregates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from .schemas import BucketStats, Metric

_COLS = "id, entity_type, entity_name, thread_id, metric_name, value, labels, ts AS timestamp"
# Bucket names to date_trunc units: a fixed map, never caller text in the SQL.
UNITS = {"1m": "minute", "1h": "hour", "1d": "day"}


@dataclass(frozen=True)
class MetricFilter:
    entity_type: str | None = None
    entity_name: str | None = None
    thread_id: str | None = None
    metric_name: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    labels_json: str | None = None  # every one of these labels

    def args(self) -> tuple[Any, ...]:
        return (self.entity_type, self.entity_name, self.thread_id, self.metric_name,
                self.start, self.end, self.labels_json)


# $1 tenant, $2 person, $3..$9 the filter's args.
_WHERE = ("tenant_id = $1 AND person_id = $2 AND ($3::text IS NULL OR entity_type = $3) "
          "AND ($4::text IS NULL OR entity_name = $4) AND ($5::text IS NULL OR thread_id = $5) "
          "AND ($6::text IS NULL OR metric_name = $6) "
          "AND ($7::timestamptz IS NULL OR ts >= $7) AND ($8::timestamptz IS NULL OR ts < $8) "
          "AND ($9::jsonb IS NULL OR labels @> $9::jsonb)")


async def insert_many(pg: asyncpg.Connection, tenant: str, person: str,
                      points_json: str) -> dict[str, Metric]:
    """Points as a JSON array of {id, et, en, th, mn, v, l, ts} (one jsonb parameter: no
    array types for the driver to look up), by id."""
    records = await pg.fetch(
        "INSERT INTO agent_metrics (tenant_id, person_id, id, entity_type, entity_name, "
        "thread_id, metric_name, value, labels, ts) "
        "SELECT $1, $2, u.id, u.et, u.en, u.th, u.mn, u.v, u.l, coalesce(u.ts, now()) "
        "FROM jsonb_to_recordset($3::jsonb) AS u(id text, et text, en text, th text, "
        "mn text, v double precision, l jsonb, ts timestamptz) "
        f"RETURNING {_COLS}", tenant, person, points_json)
    return {r["id"]: Metric(**r) for r in records}


async def query(pg: asyncpg.Connection, tenant: str, person: str, f: MetricFilter,
                after: tuple[datetime, str] | None, offset: int, limit: int) -> list[Metric]:
    """Newest first; keyset after (ts, id), or an offset (the Cortex API)."""
    after_at, after_id = after if after else (None, None)
    records = await pg.fetch(
        f"SELECT {_COLS} FROM agent_metrics WHERE {_WHERE} "
        "AND ($10::timestamptz IS NULL OR (ts, id) < ($10, $11::text)) "
        "ORDER BY ts DESC, id DESC OFFSET $12 LIMIT $13",
        tenant, person, *f.args(), after_at, after_id, offset, limit)
    return [Metric(**r) for r in records]


async def aggregate(pg: asyncpg.Connection, tenant: str, person: str, f: MetricFilter,
                    bucket: str, limit: int) -> list[BucketStats]:
    records = await pg.fetch(
        "SELECT date_trunc($10, ts, 'UTC') AS bucket_start, count(*) AS count, sum(value) AS sum, "
        "avg(value) AS avg, min(value) AS min, max(value) AS max, "
        "percentile_cont(0.5) WITHIN GROUP (ORDER BY value) AS p50, "
        "percentile_cont(0.95) WITHIN GROUP (ORDER BY value) AS p95 "
        f"FROM agent_metrics WHERE {_WHERE} GROUP BY 1 ORDER BY 1 LIMIT $11",
        tenant, person, *f.args(), UNITS[bucket], limit)
    return [BucketStats(**r) for r in records]
