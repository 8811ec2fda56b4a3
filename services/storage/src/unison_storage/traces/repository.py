"""SQL for trace_spans and trace_summaries. A batch of spans is one statement (`unnest` of
column arrays) that also keeps its traces' summary rows; a trace matches a query when any
of its spans matches every filter, and its summary comes from trace_summaries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from .otlp import SpanRecord

# The root of a trace: the first span by (has a parent, start time, span id).
_NEW_ROOT_WINS = ("(EXCLUDED.root_has_parent, EXCLUDED.root_start, EXCLUDED.root_span_id) "
                  "< (t.root_has_parent, t.root_start, t.root_span_id)")

# One statement per batch: the columns arrive as arrays and are unnested together. The
# spans actually inserted (RETURNING: a retried export's spans are not) update their
# traces' summaries in the same statement; ON CONFLICT DO UPDATE is atomic per row, so
# concurrent exports of one trace add up. Rows go in trace order (fewer lock cycles).
_INSERT = ("WITH cols AS (SELECT row_number() OVER () AS n, c.* FROM unnest("
           "$3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], "
           "$9::timestamptz[], $10::timestamptz[], $11::float8[], $12::text[], $13::text[], "
           "$14::text[], $15::text[], $16::text[], $17::text[]) AS c(trace_id, span_id, "
           "parent_span_id, name, kind, component, start_time, end_time, duration_ms, "
           "status, status_message, attributes, events, resource, links)), "
           "ins AS (INSERT INTO trace_spans (tenant_id, person_id, trace_id, span_id, "
           "parent_span_id, name, kind, component, start_time, end_time, duration_ms, "
           "status, status_message, attributes, events, resource, links) "
           "SELECT $1, $2, trace_id, span_id, parent_span_id, name, kind, component, "
           "start_time, end_time, duration_ms, status, status_message, attributes::jsonb, "
           "events::jsonb, resource::jsonb, links::jsonb FROM cols ORDER BY trace_id, n "
           "ON CONFLICT (tenant_id, trace_id, span_id) DO NOTHING "
           "RETURNING trace_id, span_id, parent_span_id, name, component, start_time, "
           "end_time, status), "
           "agg AS (SELECT trace_id, min(start_time) AS s, max(end_time) AS e, "
           "count(*) AS c, bool_or(status = 'error') AS err FROM ins GROUP BY trace_id), "
           "root AS (SELECT DISTINCT ON (trace_id) trace_id, name, component, "
           "parent_span_id IS NOT NULL AS has_parent, start_time, span_id FROM ins "
           "ORDER BY trace_id, parent_span_id IS NOT NULL, start_time, span_id), "
           "up AS (INSERT INTO trace_summaries AS t (tenant_id, person_id, trace_id, "
           "start_time, end_time, span_count, has_error, root_name, root_component, "
           "root_has_parent, root_start, root_span_id) "
           "SELECT $1, $2, a.trace_id, a.s, a.e, a.c, a.err, r.name, r.component, "
           "r.has_parent, r.start_time, r.span_id FROM agg a JOIN root r USING (trace_id) "
           "ORDER BY a.trace_id "
           "ON CONFLICT (tenant_id, person_id, trace_id) DO UPDATE SET "
           "start_time = LEAST(t.start_time, EXCLUDED.start_time), "
           "end_time = GREATEST(t.end_time, EXCLUDED.end_time), "
           "span_count = t.span_count + EXCLUDED.span_count, "
           "has_error = t.has_error OR EXCLUDED.has_error, "
           + "".join(f"{c} = CASE WHEN {_NEW_ROOT_WINS} THEN EXCLUDED.{c} ELSE t.{c} END, "
                     for c in ("root_name", "root_component", "root_has_parent",
                               "root_start"))
           + f"root_span_id = CASE WHEN {_NEW_ROOT_WINS} THEN EXCLUDED.root_span_id "
           "ELSE t.root_span_id END) "
           "SELECT count(*) FROM ins")


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


async def insert_spans(conn: asyncpg.Connection, tenant: str, person: str,
                       spans: list[SpanRecord]) -> int:
    """Store a batch in one statement; a span already stored (a retried export) is
    left as it is. Returns how many were new."""
    if not spans:
        return 0
    inserted = await conn.fetchval(
        _INSERT, tenant, person, [s.trace_id for s in spans], [s.span_id for s in spans],
        [s.parent_span_id for s in spans], [s.name for s in spans],
        [s.kind for s in spans], [s.component for s in spans], [s.start for s in spans],
        [s.end for s in spans], [s.duration_ms for s in spans], [s.status for s in spans],
        [s.status_message for s in spans], [_json(s.attributes) for s in spans],
        [_json(s.events) for s in spans], [_json(s.resource) for s in spans],
        [_json(s.links) for s in spans])
    return int(inserted)


@dataclass(frozen=True)
class TraceFilter:
    component: str | None = None
    operation: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    attributes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class TraceSummaryRow:
    trace_id: str
    start: datetime
    end: datetime
    span_count: int
    has_error: bool
    root_name: str
    component: str


def summaries_sql(f: TraceFilter, paged: bool) -> tuple[str, list[str]]:
    """The summary query for the filters that are set: constant fragments only, each
    value a numbered parameter. Returns the SQL and the parameter names in order.

    A page reads trace_summaries in (start, trace) order, keyset-paged, so it costs
    `limit` rows when nothing filters; a filter keeps a trace when one of its spans
    matches every filter (EXISTS over trace_spans). `until` alone needs no span: some
    span starts before it exactly when the trace's first span does."""
    names = ["tenant", "person"]
    span_conds: list[str] = []
    conds = ["t.tenant_id = $1", "t.person_id = $2"]

    def param(name: str) -> str:
        names.append(name)
        return f"${len(names)}"

    for column, name, value in (("component", "component", f.component),
                                ("name", "operation", f.operation),
                                ("status", "status", f.status)):
        if value is not None:
            span_conds.append(f"s.{column} = {param(name)}")
    if f.since is not None:
        span_conds.append(f"s.start_time >= {param('since')}")
    for i, _ in enumerate(f.attributes):
        span_conds.append(f"s.attributes ->> {param(f'attr_key{i}')} = "
                          f"{param(f'attr_value{i}')}")
    if f.until is not None:
        target = span_conds if span_conds else conds
        column = "s.start_time" if span_conds else "t.start_time"
        target.append(f"{column} < {param('until')}")
    if span_conds:
        conds.append("EXISTS (SELECT 1 FROM trace_spans s WHERE s.tenant_id = $1 "
                     "AND s.person_id = $2 AND s.trace_id = t.trace_id AND "
                     f"{' AND '.join(span_conds)})")
    if paged:
        conds.append(f"(t.start_time, t.trace_id) < "
                     f"({param('after_start')}::timestamptz, {param('after_id')})")
    limit = param("limit")
    sql = ("SELECT t.trace_id, t.start_time, t.end_time, t.span_count, t.has_error, "
           "t.root_name, t.root_component FROM trace_summaries t "
           f"WHERE {' AND '.join(conds)} "
           f"ORDER BY t.start_time DESC, t.trace_id DESC LIMIT {limit}")
    return sql, names


async def summaries(conn: asyncpg.Connection, tenant: str, person: str, f: TraceFilter,
                    after: tuple[datetime, str] | None, limit: int) -> list[TraceSummaryRow]:
    sql, names = summaries_sql(f, after is not None)
    values: dict[str, Any] = {
        "tenant": tenant, "person": person, "component": f.component,
        "operation": f.operation, "status": f.status, "since": f.since, "until": f.until,
        "limit": limit,
        "after_start": after[0] if after else None, "after_id": after[1] if after else None}
    for i, (key, value) in enumerate(f.attributes):
        values[f"attr_key{i}"], values[f"attr_value{i}"] = key, value
    rows = await conn.fetch(sql, *[values[n] for n in names])
    return [TraceSummaryRow(*r) for r in rows]


_SPANS = ("SELECT trace_id, span_id, parent_span_id, name, kind, component, start_time, "
          "end_time, status, status_message, attributes, events, resource, links "
          "FROM trace_spans WHERE tenant_id = $1 AND person_id = $2 AND trace_id = $3 "
          "ORDER BY start_time, span_id")


async def trace_spans(conn: asyncpg.Connection, tenant: str, person: str,
                      trace_id: str) -> list[asyncpg.Record]:
    return list(await conn.fetch(_SPANS, tenant, person, trace_id))
