"""The raw driver baseline in its own process: `python -m bench.rawpg read|write CLIENTS
SECONDS WARMUP DSN` prints JSON. asyncpg runs storage's KV read or check-and-set write
statement (autocommit) on connections kept in their tenant's scope, as the service's pool
keeps them, with no framework; one connection per client, each its own tenant."""

from __future__ import annotations

import asyncio
import json
import sys
import time

import asyncpg
import uvloop

_COLS = "namespace, key, value, value_enc, dek_version, version, expires_at, updated_at"
_WHERE = ("tenant_id = $1 AND person_id = $2 AND namespace = 'raw' AND key = 'k' "
          "AND (expires_at IS NULL OR expires_at > now())")
STATEMENTS = {
    "read": f"SELECT {_COLS} FROM kv_records WHERE {_WHERE}",
    "write": f"UPDATE kv_records SET value = $3::jsonb, version = version + 1, "
             f"updated_at = now() WHERE {_WHERE} AND version = $4 RETURNING {_COLS}",
}
VALUE = '{"n": 1, "client": 0, "text": "benchmark payload benchmark payload benchmark"}'


async def _client(op: str, dsn: str, i: int, start: float, end: float,
                  latencies: list[float]) -> None:
    conn = await asyncpg.connect(dsn)
    tenant, person = f"h-raw-{i}", f"p-raw-{i}"
    await conn.fetchrow("SELECT set_config('app.tenant_id', $1, false), "
                        "set_config('app.person_id', $2, false)", tenant, person)
    version = await conn.fetchval(
        "INSERT INTO kv_records (tenant_id, person_id, namespace, key, value) VALUES "
        "($1, $2, 'raw', 'k', $3::jsonb) ON CONFLICT (tenant_id, person_id, namespace, key) "
        "DO UPDATE SET version = kv_records.version RETURNING version", tenant, person, VALUE)
    try:
        while (t0 := time.perf_counter()) < end:
            if op == "read":
                await conn.fetchrow(STATEMENTS[op], tenant, person)
            else:
                version = (await conn.fetchrow(STATEMENTS[op], tenant, person, VALUE,
                                               version))["version"]
            if t0 >= start:
                latencies.append(time.perf_counter() - t0)
    finally:
        await conn.close()


async def run(op: str, clients: int, seconds: float, warmup: float, dsn: str) -> dict[str, float]:
    latencies: list[float] = []
    start = time.perf_counter() + warmup + 1.0  # connected and warm by then
    await asyncio.gather(*(_client(op, dsn, i, start, start + seconds, latencies)
                           for i in range(clients)))
    lat = sorted(latencies)
    return {"rps": round(len(lat) / seconds, 1), "p50_ms": round(lat[len(lat) // 2] * 1000, 2),
            "p99_ms": round(lat[int(len(lat) * 0.99)] * 1000, 2)}


if __name__ == "__main__":
    op, clients, seconds, warmup, dsn = sys.argv[1:6]
    print(json.dumps(uvloop.run(run(op, int(clients), float(seconds), float(warmup), dsn))))
