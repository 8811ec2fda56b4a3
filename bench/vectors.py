"""Vector search benchmark: `uv run python -m bench.vectors` (docs/performance.md).

A fresh PostgreSQL (fsync on, pgvector) and storage as its own uvicorn process. Loads a
generated, clustered data set over HTTP in batches of 100 (the upsert rate), spread over
20 tenants (the big one 40%, one 1%), then measures search by embedding at 1 and 8
clients with wrk (keep-alive, the big tenant's caller) beside the very same statements
run by asyncpg in this process (same transaction, settings and SQL as the service:
`unison_storage.vectors.repository`), and recall@10 of the service's answers against an
exact scan. Prints rate, p50 and p99 per case; writes bench/results/vectors.json.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from unison_devstack.postgres import PostgresServer
from unison_devstack.procs import free_port, spawn, stop_pid, wait_until
from unison_devstack.tokens import mint_token

REPO_ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-vectors-hs256-secret-long-enough-for-hmac"
KEYRING = json.dumps({"current": "v1", "keys": {"v1": base64.b64encode(b"v" * 32).decode()}})
DATABASE = "storage_vector_bench"
_LUA = r"""
local body = %s
local auth = %s
ok, bad = 0, 0
local threads = {}
function setup(thread) table.insert(threads, thread) end
function request()
  return wrk.format("POST", %s, {Authorization = auth, ["Content-Type"] = "application/json"}, body)
end
function response(status, headers, b)
  if status < 300 then ok = ok + 1 else bad = bad + 1 end
end
function done(summary, latency, requests)
  local o, b, e = 0, 0, summary.errors
  for _, t in ipairs(threads) do o, b = o + t:get("ok"), b + t:get("bad") end
  io.write(string.format('WRKRESULT {"ok": %%d, "bad": %%d, "us": %%d, "p50_us": %%d, ' ..
    '"p99_us": %%d, "socket_errors": %%d}\n', o, b, summary.duration, latency:percentile(50),
    latency:percentile(99), e.connect + e.read + e.write + e.timeout + e.status))
end
"""


def caller(i: int) -> tuple[str, str, str]:
    person, household = f"p-bench-{i}", f"h-bench-{i}"
    return person, household, mint_token(SECRET, person_id=person, household_id=household,
                                         audience=["storage"], ttl_seconds=7200)


def dataset(rng: random.Random, n: int, dim: int,
            centers: list[list[float]]) -> list[list[float]]:
    out = []
    for _ in range(n):
        c = centers[rng.randrange(len(centers))]
        out.append([round(x + rng.gauss(0, 0.5), 4) for x in c])
    return out


def load(base: str, args: argparse.Namespace, rng: random.Random,
         centers: list[list[float]]) -> dict[str, Any]:
    big, small = int(args.vectors * 0.4), max(1, args.vectors // 100)
    rest = (args.vectors - big - small) // 18
    sizes = [big, small] + [rest] * 18
    docs = 0
    started = time.monotonic()
    for i, size in enumerate(sizes):
        _, _, token = caller(i)
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"},
                          timeout=120) as http:
            http.post("/v1/vectors/collections", json={
                "name": "bench", "dimension": args.dim}).raise_for_status()
            vectors = dataset(rng, size, args.dim, centers)
            for start in range(0, size, 100):
                batch = [{"id": f"d{j}", "embedding": v, "text": f"document {j}",
                          "metadata": {"bucket": j % 4, "n": j}}
                         for j, v in enumerate(vectors[start:start + 100], start=start)]
                http.post("/v1/vectors/collections/bench/documents",
                          json={"documents": batch}).raise_for_status()
                docs += len(batch)
    seconds = time.monotonic() - started
    return {"documents": docs, "seconds": round(seconds, 1),
            "docs_per_s": round(docs / seconds, 1), "batches_per_s": round(docs / 100 / seconds, 1),
            "big_tenant": big, "small_tenant": small}


def run_wrk(base: str, body: dict[str, Any], conc: int, seconds: int) -> dict[str, Any]:
    _, _, token = caller(0)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(_LUA % (json.dumps(json.dumps(body)), json.dumps("Bearer " + token),
                         json.dumps("/v1/vectors/collections/bench/search")))
    try:
        proc = subprocess.run(["wrk", "-t", str(conc), "-c", str(conc), "-d", f"{seconds}s",
                               "--timeout", "30s", "-s", fh.name, base],
                              capture_output=True, text=True, check=False, timeout=seconds + 60)
    finally:
        Path(fh.name).unlink(missing_ok=True)
    m = re.search(r"WRKRESULT (\{.*\})", proc.stdout)
    if proc.returncode != 0 or m is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr[-800:]}")
    w = json.loads(m.group(1))
    return {"rps": round(w["ok"] / (w["us"] / 1e6), 1), "p50_ms": round(w["p50_us"] / 1000, 2),
            "p99_ms": round(w["p99_us"] / 1000, 2), "errors": w["bad"] + w["socket_errors"]}


async def raw_sql(dsn: str, body: dict[str, Any], conc: int, seconds: float,
                  exact_max: int) -> dict[str, Any]:
    """The service's search, statement for statement, on asyncpg connections of the
    runtime role in the big tenant's scope (no HTTP, no FastAPI, no pydantic)."""
    from unison_storage.vectors import repository as repo
    from unison_storage.vectors.filters import compile_filter

    person, household, _ = caller(0)
    latencies: list[float] = []
    where = compile_filter(body.get("filter"), repo.FILTER_OFFSET["nearest"])

    async def client() -> None:
        conn = await asyncpg.connect(dsn)
        await conn.execute("SELECT set_config('app.tenant_id', $1, false), "
                           "set_config('app.person_id', $2, false)", household, person)
        await repo.use_vectors(conn)
        coll = await repo.find_collection(conn, household, person, "bench", None)
        assert coll is not None
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            t0 = time.perf_counter()
            await repo.find_collection(conn, household, person, "bench", None)
            n = await repo.count_matching(conn, household, coll.id, where, exact_max + 1)
            if n <= exact_max:
                await repo.nearest(conn, household, coll, body["embedding"], where,
                                   body["limit"], True, False)
            else:
                async with conn.transaction():
                    await repo.use_hnsw(conn, 100, 50_000)
                    await repo.nearest(conn, household, coll, body["embedding"], where,
                                       body["limit"], False, False)
            latencies.append(time.perf_counter() - t0)
        await conn.close()

    started = time.monotonic()
    await asyncio.gather(*(client() for _ in range(conc)))
    elapsed = time.monotonic() - started
    latencies.sort()
    return {"rps": round(len(latencies) / elapsed, 1),
            "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
            "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2), "errors": 0}


def recall(base: str, queries: list[list[float]], flt: dict[str, Any] | None,
           dsn: str) -> tuple[float, str]:
    """recall@10 of the service's answers against an exact scan (same data)."""
    from unison_storage.vectors import repository as repo
    from unison_storage.vectors.filters import compile_filter

    person, household, token = caller(0)
    found, strategy = 0, ""

    async def exact(q: list[float]) -> set[str]:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("SELECT set_config('app.tenant_id', $1, false), "
                               "set_config('app.person_id', $2, false)", household, person)
            coll = await repo.find_collection(conn, household, person, "bench", None)
            assert coll is not None
            hits = await repo.nearest(conn, household, coll, q, compile_filter(
                flt, repo.FILTER_OFFSET["nearest"]), 10, True, False)
            return {h.id for h in hits}
        finally:
            await conn.close()

    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"},
                      timeout=60) as http:
        for q in queries:
            r = http.post("/v1/vectors/collections/bench/search",
                          json={"embedding": q, "limit": 10, "filter": flt})
            r.raise_for_status()
            strategy = r.json()["strategy"]
            got = {h["id"] for h in r.json()["items"]}
            found += len(got & asyncio.run(exact(q)))
    return round(found / (10 * len(queries)), 3), strategy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=int, default=50_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk; `make bench` does)")
    root = Path(tempfile.mkdtemp(prefix="bench-vectors-"))
    pg = PostgresServer(root / "postgres", free_port(), fsync=True)
    pid = None
    try:
        pg.start()
        pg.ensure_roles()
        pg.ensure_database(DATABASE)
        urls = pg.urls(DATABASE)
        from unison_shared.migration_helpers import alembic_upgrade

        alembic_upgrade("storage", urls["owner"])
        port = free_port()
        env = {**os.environ, "UNISON_ENVIRONMENT": "test", "UNISON_DATABASE_URL":
               urls["runtime"], "UNISON_DATABASE_SYSTEM_URL": urls["system"],
               "UNISON_AUTH_HS256_SECRET": SECRET, "UNISON_KEK_KEYRING": KEYRING,
               "UNISON_STATE_DIR": str(root / "state"), "UNISON_LOG_LEVEL": "WARNING",
               "UNISON_ACCESS_LOG": "false", "STORAGE_OBJECT_FS_ROOT": str(root / "objects"),
               "STORAGE_SWEEP_INTERVAL_SECONDS": "86400"}
        pid = spawn([sys.executable, "-m", "uvicorn", "unison_storage.main:create_app",
                     "--factory", "--host", "127.0.0.1", "--port", str(port), "--loop",
                     "uvloop", "--http", "httptools", "--no-access-log", "--log-level",
                     "warning"], root / "storage.log", env=env, cwd=REPO_ROOT).pid
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: _ready(base), 60, "storage service")
        rng = random.Random(384)
        centers = [[rng.gauss(0, 1) for _ in range(args.dim)] for _ in range(50)]
        upserts = load(base, args, rng, centers)
        print(f"upsert: {upserts}")
        dsn = urls["runtime"].replace("postgresql+asyncpg://", "postgresql://", 1)
        queries = dataset(rng, 20, args.dim, centers)
        cases = [("search", None), ("search, filter 25%", {"bucket": 1})]
        results: dict[str, Any] = {"args": vars(args), "upsert": upserts, "search": [],
                                   "recall": {}}
        for name, flt in cases:
            results["recall"][name] = recall(base, queries, flt, dsn)
            body = {"embedding": queries[0], "limit": 10, "filter": flt}
            for conc in args.clients:
                http = run_wrk(base, body, conc, args.seconds)
                raw = asyncio.run(raw_sql(dsn, body, conc, args.seconds, 10_000))
                row = {"case": name, "clients": conc, "http": http, "sql": raw,
                       "http_over_sql": round(http["rps"] / raw["rps"], 2)}
                results["search"].append(row)
                print(json.dumps(row))
        print(f"recall@10 (service vs exact): {results['recall']}")
        out = REPO_ROOT / "bench" / "results" / "vectors.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2) + "\n")
    finally:
        if pid is not None:
            stop_pid(pid)
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    main()
