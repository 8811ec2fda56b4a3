"""OTLP trace ingest and trace queries: `uv run python -m bench.traces`.

Ingest: clients post OTLP/HTTP protobuf batches of 100 spans (fresh ids every batch, so
nothing is deduplicated) to `POST /v1/traces` for a fixed time, at 1 and 8 clients,
beside raw asyncpg running the service's own insert statement (one `unnest` statement
per 100 rows) from as many connections in the same run. The load comes from Python
(httpx) rather than wrk because every request needs a body of its own; it shares the
host's CPU with the server, which the report says. Queries: `GET /v1/traces` (a
component filter, 20 summaries) latency at 1 and 8 clients over the ingested spans.
Guidance (issue 14): HTTP ingest >= 0.3 of the raw insert rate.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from statistics import quantiles

import asyncpg
import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from unison_devstack.tokens import mint_token
from unison_storage.traces import otlp
from unison_storage.traces.repository import insert_spans

from .servers import SECRET, Backends, StorageProcess

BATCH = 100


def batch(component: str) -> bytes:
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    kv = rs.resource.attributes.add()
    kv.key, kv.value.string_value = "service.name", component
    scope = rs.scope_spans.add()
    now = time.time_ns()
    trace_id = os.urandom(16)
    for i in range(BATCH):
        span = scope.spans.add()
        span.trace_id, span.span_id = trace_id, os.urandom(8)
        span.name = f"op-{i % 5}"
        span.start_time_unix_nano, span.end_time_unix_nano = now, now + 1_000_000
        attr = span.attributes.add()
        attr.key, attr.value.string_value = "gen_ai.request.model", "bench-model"
    return request.SerializeToString()


async def http_ingest(base: str, clients: int, seconds: float) -> float:
    """Spans stored per second over HTTP."""
    stop = time.monotonic() + seconds
    counts = [0] * clients

    async def client(i: int) -> None:
        token = mint_token(SECRET, person_id=f"p{i}", household_id=f"h-ingest-{i}")
        headers = {"Authorization": f"Bearer {token}",
                   "Content-Type": "application/x-protobuf"}
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as c:
            while time.monotonic() < stop:
                r = await c.post("/v1/traces", content=batch("bench"))
                r.raise_for_status()
                counts[i] += BATCH

    started = time.monotonic()
    await asyncio.gather(*(client(i) for i in range(clients)))
    return sum(counts) / (time.monotonic() - started)


async def raw_ingest(dsn: str, clients: int, seconds: float) -> float:
    """The same statement, the same rows, straight through asyncpg."""
    stop = time.monotonic() + seconds
    counts = [0] * clients

    async def client(i: int) -> None:
        conn = await asyncpg.connect(dsn)
        tenant = f"h-raw-{i}"
        await conn.execute("SELECT set_config('app.tenant_id', $1, false)", tenant)
        try:
            while time.monotonic() < stop:
                spans, _, _ = otlp.spans(ExportTraceServiceRequest.FromString(batch("raw")))
                await insert_spans(conn, tenant, f"p{i}", spans)
                counts[i] += len(spans)
        finally:
            await conn.close()

    started = time.monotonic()
    await asyncio.gather(*(client(i) for i in range(clients)))
    return sum(counts) / (time.monotonic() - started)


async def query_latency(base: str, clients: int, requests: int) -> tuple[float, float]:
    """(p50, p99) ms of trace summary queries."""
    latencies: list[float] = []

    async def client(i: int) -> None:
        token = mint_token(SECRET, person_id=f"p{i % 8}", household_id=f"h-ingest-{i % 8}")
        async with httpx.AsyncClient(base_url=base, timeout=30,
                                     headers={"Authorization": f"Bearer {token}"}) as c:
            for _ in range(requests // clients):
                t0 = time.perf_counter()
                r = await c.get("/v1/traces", params={"component": "bench", "limit": 20})
                r.raise_for_status()
                latencies.append((time.perf_counter() - t0) * 1000)

    await asyncio.gather(*(client(i) for i in range(clients)))
    cuts = quantiles(latencies, n=100)
    return cuts[49], cuts[98]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--queries", type=int, default=400)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="unison-bench-traces-") as tmp:
        backends = Backends(Path(tmp))
        backends.start()
        server = StorageProcess(backends)
        try:
            server.start()
            dsn = backends.url("postgresql")
            print(f"# traces bench {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
                  f"batches of {BATCH} spans, {args.seconds:g} s per row\n")
            print("| clients | HTTP spans/s | raw asyncpg spans/s | ratio | guidance >= 0.3 |")
            print("|---|---|---|---|---|")
            for clients in (1, 8):
                http = asyncio.run(http_ingest(server.base_url, clients, args.seconds))
                raw = asyncio.run(raw_ingest(dsn, clients, args.seconds))
                ratio = http / raw
                print(f"| {clients} | {http:,.0f} | {raw:,.0f} | {ratio:.2f} | "
                      f"{'met' if ratio >= 0.3 else 'missed'} |")
            print("\n| clients | trace query p50 ms | p99 ms |\n|---|---|---|")
            for clients in (1, 8):
                p50, p99 = asyncio.run(query_latency(server.base_url, clients, args.queries))
                print(f"| {clients} | {p50:.1f} | {p99:.1f} |")
        finally:
            server.stop()
            backends.stop()


if __name__ == "__main__":
    main()
