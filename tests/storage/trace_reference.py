"""Test-only helpers for trace summaries: the list query as it was before trace_summaries
(every span of every matching trace aggregated), a varied span set, and a comparison of
the service's query with that reference for a filter, page by page."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from unison_storage.traces.otlp import SpanRecord
from unison_storage.traces.repository import TraceFilter, summaries


def reference_sql(f: TraceFilter, paged: bool) -> tuple[str, list[str]]:
    """The aggregate the list ran before revision 0020, unchanged."""
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


async def reference(conn: asyncpg.Connection, tenant: str, person: str, f: TraceFilter,
                    after: tuple[datetime, str] | None, limit: int) -> list[tuple[Any, ...]]:
    sql, names = reference_sql(f, after is not None)
    values: dict[str, Any] = {
        "tenant": tenant, "person": person, "component": f.component,
        "operation": f.operation, "status": f.status, "since": f.since, "until": f.until,
        "limit": limit, "after_start": after[0] if after else None,
        "after_id": after[1] if after else None}
    for i, (key, value) in enumerate(f.attributes):
        values[f"attr_key{i}"], values[f"attr_value{i}"] = key, value
    return [tuple(r) for r in await conn.fetch(sql, *[values[n] for n in names])]


BASE = datetime(2026, 11, 1, tzinfo=UTC)


def varied_traces(seed: int, traces: int = 40) -> list[list[SpanRecord]]:
    """Export batches: traces of 1-8 spans over several components, some with errors, some
    whose root comes in a later batch or never, some sharing a first start (the keyset's
    tie on trace id), each batch shuffled, some batches sent again (a retry, with or
    without a new span). Start times within a trace are distinct."""
    rng = random.Random(seed)
    batches: list[list[SpanRecord]] = []
    for t in range(traces):
        trace_id = f"{t:032x}"  # the same ids for every seed: persons may share a trace id
        n = rng.randint(1, 8)
        first = BASE + timedelta(minutes=rng.choice([t, t, 7]))  # minute 7 is shared
        spans = []
        for i in range(n):
            start = first + timedelta(microseconds=0 if i == 0 else rng.randint(1, 10**4) * 100
                                      + i)
            spans.append(SpanRecord(
                trace_id=trace_id, span_id=f"{seed:04x}{t:04x}{i:08x}",
                parent_span_id=None if i == 0 else f"{seed:04x}{t:04x}{rng.randrange(i):08x}",
                name=rng.choice(["turn", "llm.call", "tool.call", "db.query"]),
                kind="internal", component=rng.choice(["api", "llm", "tool"]),
                start=start, end=start + timedelta(milliseconds=rng.randint(1, 9000)),
                status=rng.choice(["ok", "ok", "unset", "error"]), status_message=None,
                attributes={"model": rng.choice(["a", "b"])}, events=[], resource={}))
        if rng.random() < 0.3 and n > 1:  # the root comes late: a child starts first
            spans[0] = replace(spans[0], start=spans[0].start + timedelta(seconds=30),
                               end=spans[0].end + timedelta(seconds=30))
        if rng.random() < 0.1 and n > 1:  # the root never comes
            spans = spans[1:]
        rng.shuffle(spans)
        cut = rng.randint(1, len(spans))
        parts = [spans[cut:], spans[:cut]] if cut < len(spans) else [spans]
        for part in parts:
            batches.append(part)
            if rng.random() < 0.3:
                batches.append(part[: rng.randint(1, len(part))])  # a retried export
    rng.shuffle(batches)
    return batches


FILTERS = [
    TraceFilter(), TraceFilter(component="api"), TraceFilter(component="tool"),
    TraceFilter(operation="llm.call"), TraceFilter(status="error"),
    TraceFilter(since=BASE + timedelta(minutes=12)),
    TraceFilter(until=BASE + timedelta(minutes=20)),
    TraceFilter(since=BASE + timedelta(minutes=5), until=BASE + timedelta(minutes=25)),
    TraceFilter(attributes=(("model", "a"),)),
    TraceFilter(component="llm", status="error"),
    TraceFilter(component="api", until=BASE + timedelta(minutes=15)),
    TraceFilter(attributes=(("model", "b"),), since=BASE + timedelta(minutes=3)),
    TraceFilter(component="nobody"),
]


async def assert_same_pages(conn: asyncpg.Connection, tenant: str, person: str,
                            limit: int = 7) -> int:
    """Every filter of FILTERS, page by page: the service's query answers what the
    reference does. Returns how many summaries were compared."""
    compared = 0
    for f in FILTERS:
        after: tuple[datetime, str] | None = None
        while True:
            new = [(r.trace_id, r.start, r.end, r.span_count, r.has_error, r.root_name,
                    r.component) for r in await summaries(conn, tenant, person, f, after, limit)]
            old = await reference(conn, tenant, person, f, after, limit)
            assert new == old, (f, after)
            compared += len(new)
            if len(new) < limit:
                break
            after = (new[-1][1], new[-1][0])
    return compared
