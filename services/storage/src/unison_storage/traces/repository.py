"""SQL for trace_spans. A batch of spans is one statement (`unnest` of column arrays);
a trace matches a query when any of its spans matches every filter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from .otlp import SpanRecord

# One statement per batch: the columns arrive as arrays and are unnested together.
_INSERT = ("WITH cols AS (SELECT row_number() OVER () AS n, c.* FROM unnest("
           "$3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], "
           "$9::timestamptz[], $10::timestamptz[], $11::float8[], $12::text[], $13::text[], "
           "$14::text[], $15::text[], $16::text[], $17::text[]) AS c(trace_id, span_id, "
           "parent_span_id, name, kind, component, start_time, end_time, duration_ms, "
           "status, status_message, attributes, events, resource, links)) "
           "INSERT INTO trace_spans (tenant_id, person_id, trace_id, span_id, parent_span_id, "
           "name, kind, component, start_time, end_time, duration_ms, status, "
           "status_message, attributes, events, resource, links) "
           "SELECT $1, $2, trace_id, span_id, parent_span_id, name, kind, component, "
           "start_time, end_time, duration_ms, status, status_message, attributes::jsonb, "
           "events::jsonb, resource::jsonb, links::jsonb FROM cols "
           "ON CONFLICT (tenant_id, trace_id, span_id) DO NOTHING")


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


async def insert_spans(conn: asyncpg.Connection, tenant: str, person: str,
                       spans: list[SpanRecord]) -> int:
    """Store a batch in one statement; a span already stored (a retried export) is
    left as it is. Returns how many were new."""
    if not spans:
        return 0
    result = await conn.execute(
        _INSERT, tenant, person, [s.trace_id for s in spans], [s.span_id for s in spans],
        [s.parent_span_id for s in spans], [s.name for s in spans],
        [s.kind for s in spans], [s.component for s in spans], [s.start for s in spans],
        [s.end for s in spans], [s.duration_ms for s in spans], [s.status for s in spans],
        [s.status_message for s in spans], [_json(s.attributes) for s in spans],
        [_json(s.events) for s in spans], [_json(s.resource) for s in spans],
        [_json(s.links) for s in spans])
    return int(result.rsplit(" ", 1)[-1])


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
    value a numbered parameter. Returns the SQL and the parameter names in order."""
    names = ["tenant", "person"]
    conds = ["tenant_id = $1", "person_id = $2"]

    def param(name: str) -> str:
        names.append(name)
        return f"${len(names)}"

    for column, name, value in (("component", "component", f.component),
                                ("name", "operation", f.operation),
                                ("status", "status", f.status)):
        if value is not None:
            conds.append(f"{column} = {param(name)}")
    if f.since is not None:
        conds.append(f"start_time >= {param('since')}")
    if f.until is not None:
        conds.append(f"start_time < {param('until')}")
    for i, _ in enumerate(f.attributes):
        conds.append(f"attributes ->> {param(f'attr_key{i}')} = {param(f'attr_value{i}')}")
    having = ""
    if paged:
        having = (f"HAVING (min(s.start_time), s.trace_id) < "
                  f"({param('after_start')}::timestamptz, {param('after_id')})")
    limit = param("limit")
    sql = (f"WITH matched AS (SELECT DISTINCT trace_id FROM trace_spans "
           f"WHERE {' AND '.join(conds)}) "
           "SELECT s.trace_id, min(s.start_time), max(s.end_time), count(*), "
           "bool_or(s.status = 'error'), "
           "(array_agg(s.name ORDER BY s.parent_span_id IS NOT NULL, s.start_time))[1], "
           "(array_agg(s.component ORDER BY s.parent_span_id IS NOT NULL, s.start_time))[1] "
           "FROM trace_spans s JOIN matched m ON m.trace_id = s.trace_id "
           "WHERE s.tenant_id = $1 AND s.person_id = $2 "
           f"GROUP BY s.trace_id {having} "
           f"ORDER BY min(s.start_time) DESC, s.trace_id DESC LIMIT {limit}")
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
