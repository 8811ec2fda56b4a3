"""trace_summaries: kept by the span insert, read by the trace list. Differential: for
every filter and page the list answers what the old all-spans aggregate answers (the
reference in trace_reference.py), after varied ingest, concurrent ingest, retention and
the migration's backfill."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest

from unison_shared.migration_helpers import alembic_upgrade
from unison_shared.testing import role_url
from unison_storage.retention.classes_repository import CLASSES
from unison_storage.traces.otlp import SpanRecord
from unison_storage.traces.repository import TraceFilter, insert_spans, summaries

from .trace_reference import BASE, assert_same_pages, varied_traces


def _dsn(url: str, role: str = "unison_app") -> str:
    return role_url(url, role).replace("postgresql+asyncpg://", "postgresql://", 1)


async def _scoped(url: str, tenant: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(_dsn(url))
    await conn.execute("SELECT set_config('app.tenant_id', $1, false)", tenant)
    return conn


@pytest.fixture
def tenant() -> str:
    return f"h-sum-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def conn(storage_db_url: str, tenant: str) -> AsyncIterator[asyncpg.Connection]:
    c = await _scoped(storage_db_url, tenant)
    try:
        yield c
    finally:
        await c.close()


async def _ingest(conn: asyncpg.Connection, tenant: str, person: str, seed: int) -> int:
    stored = 0
    for batch in varied_traces(seed):
        async with conn.transaction():
            stored += await insert_spans(conn, tenant, person, batch)
    return stored


def _span(trace: str, span: str, parent: str | None, seconds: int, name: str,
          status: str = "ok") -> SpanRecord:
    start = BASE + timedelta(seconds=seconds)
    return SpanRecord(trace_id=trace, span_id=span, parent_span_id=parent, name=name,
                      kind="internal", component=f"c-{name}", start=start,
                      end=start + timedelta(seconds=1), status=status,
                      status_message=None, attributes={}, events=[], resource={})


async def test_every_filter_and_page_answers_what_the_old_aggregate_did(conn, tenant):
    stored = {p: await _ingest(conn, tenant, p, seed) for p, seed in (("p1", 1), ("p2", 2))}
    for person in ("p1", "p2"):
        spans = await conn.fetchval("SELECT count(*) FROM trace_spans WHERE tenant_id = $1 "
                                    "AND person_id = $2", tenant, person)
        assert stored[person] == spans  # retried spans were not counted as new
        assert await conn.fetchval(
            "SELECT sum(span_count) FROM trace_summaries WHERE tenant_id = $1 "
            "AND person_id = $2", tenant, person) == spans
        assert await assert_same_pages(conn, tenant, person) > 100


async def test_a_retried_export_counts_once_and_a_late_root_wins(conn, tenant):
    t = "ab" * 16
    child = [_span(t, "c1", "r1", 5, "child", "error"), _span(t, "c2", "c1", 3, "grand")]
    assert await insert_spans(conn, tenant, "p", child) == 2
    assert await insert_spans(conn, tenant, "p", child) == 0  # the retry
    [row] = await summaries(conn, tenant, "p", TraceFilter(), None, 10)
    assert (row.span_count, row.root_name, row.has_error) == (2, "grand", True)
    assert await insert_spans(conn, tenant, "p", [_span(t, "r1", None, 9, "root")]) == 1
    [row] = await summaries(conn, tenant, "p", TraceFilter(), None, 10)
    assert (row.span_count, row.root_name, row.component) == (3, "root", "c-root")
    assert (row.start, row.end) == (BASE + timedelta(seconds=3), BASE + timedelta(seconds=10))
    # an earlier span with a parent does not displace the root
    await insert_spans(conn, tenant, "p", [_span(t, "c0", "r1", 1, "early")])
    [row] = await summaries(conn, tenant, "p", TraceFilter(), None, 10)
    assert (row.span_count, row.root_name, row.start) == (4, "root", BASE + timedelta(seconds=1))
    assert await assert_same_pages(conn, tenant, "p") == 3  # no filter, error, until


async def test_concurrent_exports_of_one_trace_lose_no_count(storage_db_url, conn, tenant):
    t = "cd" * 16
    others = [await _scoped(storage_db_url, tenant) for _ in range(3)]

    async def export(c: asyncpg.Connection, who: int) -> None:
        for b in range(20):
            batch = [_span(t, f"{who}-{b}-{i}", None if (who, b, i) == (0, 19, 0) else "x",
                           who * 1000 + b * 10 + i, f"s{who}") for i in range(10)]
            async with c.transaction():
                await insert_spans(c, tenant, "p", batch)
                await asyncio.sleep(0.001)  # hold the summary row's lock a moment

    try:
        await asyncio.gather(*(export(c, i) for i, c in enumerate([conn, *others])))
    finally:
        for c in others:
            await c.close()
    [row] = await summaries(conn, tenant, "p", TraceFilter(), None, 10)
    assert row.span_count == 4 * 20 * 10 and row.root_name == "s0"
    await assert_same_pages(conn, tenant, "p")


async def test_retention_keeps_summaries_of_what_stays(postgres):
    from .conftest import fresh_storage_database

    url = await asyncio.to_thread(fresh_storage_database, postgres,
                                  "storage_trace_summaries_retention")
    tenant = "h-retention-summaries"
    c = await _scoped(url, tenant)
    try:
        await _ingest(c, tenant, "p", 3)
        before = await c.fetchval("SELECT count(*) FROM trace_summaries")
        # Spans up to minute 20 expire: some traces go whole, some lose their root.
        cutoff = BASE + timedelta(minutes=20, seconds=5)
        system = await asyncpg.connect(_dsn(url, "unison_system"))
        try:
            sql = CLASSES["traces"].batch_sql().replace(
                "now() - make_interval", "$4::timestamptz - make_interval")
            while len(await system.fetch(sql, "traces", 0, 50, cutoff)) == 50:
                pass
        finally:
            await system.close()
        after = await c.fetchval("SELECT count(*) FROM trace_summaries")
        assert 0 < after < before
        assert await c.fetchval("SELECT sum(span_count) FROM trace_summaries") == \
            await c.fetchval("SELECT count(*) FROM trace_spans")
        assert await assert_same_pages(c, tenant, "p") > 20
    finally:
        await c.close()


async def test_the_migration_backfills_summaries_from_stored_spans(postgres):
    name = "storage_trace_summaries_backfill"
    postgres.drop_database(name)
    postgres.ensure_database(name)
    url = postgres.url(name)
    await asyncio.to_thread(alembic_upgrade, "storage", url, "0019")
    tenant = "h-backfill"
    c = await _scoped(url, tenant)
    try:
        for seed, person in ((4, "p"), (5, "q")):
            for batch in varied_traces(seed):
                await c.executemany(
                    "INSERT INTO trace_spans (tenant_id, person_id, trace_id, span_id, "
                    "parent_span_id, name, kind, component, start_time, end_time, "
                    "duration_ms, status) VALUES ($1, $2, $3, $4, $5, $6, 'internal', $7, "
                    "$8, $9, 0, $10) ON CONFLICT DO NOTHING",
                    [(tenant, person, s.trace_id, s.span_id, s.parent_span_id, s.name,
                      s.component, s.start, s.end, s.status) for s in batch])
        await asyncio.to_thread(alembic_upgrade, "storage", url, "head")
        for person in ("p", "q"):
            assert await assert_same_pages(c, tenant, person) > 100
    finally:
        await c.close()
