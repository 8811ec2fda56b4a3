"""Raw asyncpg baselines, run as their own process: `python -m bench.pgbase < spec.json`.

What PostgreSQL itself gives one Python process on this machine, with no framework:
- `insert`: a committed single-row INSERT (autocommit: one round trip, one WAL flush);
- `select`: a primary-key SELECT;
- `kv_tx_write` / `kv_tx_read`: the storage service's transaction shape done by hand
  (BEGIN; set_config tenant; one UPDATE ... RETURNING or SELECT on kv_records; COMMIT),
  which separates the cost of the round trips from the cost of the Python stack above.
Each worker owns one connection (a pool of N, fully used).
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections import Counter
from typing import Any

import asyncpg
import orjson
import uvloop

from .stats import summarize

SEED_ROWS = 10_000
PAYLOAD = orjson.dumps({"n": 0, "client": 0, "text": "benchmark payload " * 4}).decode()

_SET_SCOPE = ("SELECT set_config('app.tenant_id', $1, true), "
              "set_config('app.person_id', $2, true)")
_KV_UPDATE = ("UPDATE kv_records SET value = $5::jsonb, version = version + 1, "
              "updated_at = now() WHERE tenant_id = $1 AND person_id = $2 AND namespace = $3 "
              "AND key = $4 AND (expires_at IS NULL OR expires_at > now()) "
              "RETURNING namespace, key, value, value_enc, dek_version, version, expires_at, "
              "updated_at")
_KV_SELECT = ("SELECT namespace, key, value, value_enc, dek_version, version, expires_at, "
              "updated_at FROM kv_records WHERE tenant_id = $1 AND person_id = $2 "
              "AND namespace = $3 AND key = $4 AND (expires_at IS NULL OR expires_at > now())")


async def _prepare_raw(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_rows (id bigint GENERATED ALWAYS AS IDENTITY "
            "PRIMARY KEY, payload jsonb NOT NULL)")
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_seed (id bigint PRIMARY KEY, payload jsonb "
            "NOT NULL)")
        if not await conn.fetchval("SELECT count(*) FROM bench_seed"):
            await conn.execute(
                "INSERT INTO bench_seed SELECT g, $1::jsonb FROM generate_series(1, $2) g",
                PAYLOAD, SEED_ROWS)
            await conn.execute("ANALYZE bench_seed")
    finally:
        await conn.close()


def _scope(spec: dict[str, Any], i: int) -> tuple[str, str]:
    return f"h-raw-{spec['run_id']}-{i}", f"p-raw-{i}"


async def _prepare_kv(conn: asyncpg.Connection, spec: dict[str, Any], i: int) -> None:
    tenant, person = _scope(spec, i)
    async with conn.transaction():
        await conn.fetchrow(_SET_SCOPE, tenant, person)
        await conn.execute(
            "INSERT INTO kv_records (tenant_id, person_id, namespace, key, value) "
            "VALUES ($1, $2, 'raw', 'k', $3::jsonb) ON CONFLICT DO NOTHING",
            tenant, person, PAYLOAD)


async def _step(op: str, conn: asyncpg.Connection, spec: dict[str, Any], i: int) -> None:
    if op == "insert":
        await conn.execute("INSERT INTO bench_rows (payload) VALUES ($1::jsonb)", PAYLOAD)
    elif op == "select":
        await conn.fetchrow("SELECT id, payload FROM bench_seed WHERE id = $1",
                            random.randint(1, SEED_ROWS))
    else:
        tenant, person = _scope(spec, i)
        async with conn.transaction():
            await conn.fetchrow(_SET_SCOPE, tenant, person)
            if op == "kv_tx_write":
                await conn.fetchrow(_KV_UPDATE, tenant, person, "raw", "k", PAYLOAD)
            else:
                await conn.fetchrow(_KV_SELECT, tenant, person, "raw", "k")


async def _worker(op: str, conn: asyncpg.Connection, spec: dict[str, Any], i: int,
                  start: float, end: float, latencies: list[float],
                  statuses: Counter[str], counts: list[int]) -> None:
    while True:
        t0 = time.perf_counter()
        if t0 >= end:
            return
        try:
            await _step(op, conn, spec, i)
        except asyncpg.PostgresError as exc:
            statuses[f"error:{type(exc).__name__}"] += 1
            continue
        counts[0] += 1
        if t0 >= start:
            latencies.append(time.perf_counter() - t0)
            statuses["ok"] += 1


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    op = spec["op"]
    kv = op.startswith("kv_")
    dsn = spec["storage_dsn"] if kv else spec["raw_dsn"]
    if not kv:
        await _prepare_raw(dsn)
    conns = [await asyncpg.connect(dsn) for _ in range(spec["concurrency"])]
    try:
        if kv:
            for i, conn in enumerate(conns):
                await _prepare_kv(conn, spec, i)
        latencies: list[float] = []
        statuses: Counter[str] = Counter()
        counts = [0]
        cpu0 = time.process_time()
        start = time.perf_counter() + spec["warmup"]
        end = start + spec["seconds"]
        await asyncio.gather(*(_worker(op, c, spec, i, start, end, latencies, statuses, counts)
                               for i, c in enumerate(conns)))
        cpu = time.process_time() - cpu0
    finally:
        for conn in conns:
            await conn.close()
    errors = sum(n for s, n in statuses.items() if s != "ok")
    return summarize(latencies, spec["seconds"], statuses["ok"], statuses, scenario=op,
                     kind="baseline", concurrency=spec["concurrency"], errors=errors,
                     conflicts=0, loadgen_cpu_s=round(cpu, 2),
                     ops_total=counts[0])


def main() -> None:
    spec = orjson.loads(sys.stdin.buffer.read())
    sys.stdout.buffer.write(orjson.dumps(uvloop.run(run(spec))))


if __name__ == "__main__":
    main()
