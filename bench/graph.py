"""Graph traversal benchmark: `uv run python -m bench.graph` (docs/performance.md).

A fresh ArcadeDB (Bolt) and Redis in a temporary directory; a generated graph (default
100k Device nodes, 3 OWNS edges out of each: 300k edges) loaded through the driver with
batched UNWIND; the context-graph service as its own uvicorn process twice, without a
cache and with Redis. Each scenario (point lookup, 1-hop, 2-hop, 3-hop shortest path)
runs over HTTP against both, and beside it the same Cypher run by the driver in this
process (the repository's own statement, no HTTP): rate, p50 and p99 per case.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from unison_devstack.arcadedb import ArcadeDBServer
from unison_devstack.procs import free_port, spawn, stop_pid, wait_until
from unison_devstack.redis import RedisServer
from unison_devstack.tokens import mint_token
from unison_shared.graph import Graph, GraphSettings, create_driver
from unison_shared.graph_api.repository import TraversalRepository
from unison_shared.graph_api.schemas import Direction

SECRET = "bench-graph-hs256-secret-long-enough-for-hmac"
TENANT = "bench"
DATABASE = "bench"
REPO_ROOT = Path(__file__).resolve().parents[1]


def graph_settings(server: ArcadeDBServer) -> GraphSettings:
    return GraphSettings(uri=server.bolt_url, user="root", password=server.password,
                         database=DATABASE, dialect="arcadedb", pool_size=16,
                         query_timeout_seconds=10)


async def load(settings: GraphSettings, nodes: int, degree: int,
               batch: int) -> tuple[float, dict[int, list[int]]]:
    """Nodes and edges through batched UNWIND; the adjacency, to pick real paths."""
    from unison_shared.graph_migrations import migrate, migrations_root

    rng = random.Random(7)
    adjacency = {i: rng.sample(range(nodes), degree) for i in range(nodes)}
    driver = create_driver(settings)
    graph = Graph(driver, settings)
    await migrate(graph, migrations_root() / "context_graph", "context")
    started = time.perf_counter()
    for lo in range(0, nodes, batch):
        rows = [{"id": f"n{i}", "props": {}} for i in range(lo, min(nodes, lo + batch))]
        await graph.run("bench.nodes",
                        "UNWIND $rows AS row MERGE (n:Entity:Device {tenant: $tenant, "
                        "id: row.id}) SET n += row.props",
                        {"tenant": TENANT, "rows": rows}, write=True, budget=600)
    edges = [(a, b) for a, targets in adjacency.items() for b in targets]
    for lo in range(0, len(edges), batch):
        rows = [{"s": f"n{a}", "e": f"n{b}"} for a, b in edges[lo:lo + batch]]
        await graph.run("bench.edges",
                        "UNWIND $rows AS row MATCH (a:Entity {tenant: $tenant, id: row.s}) "
                        "MATCH (b:Entity {tenant: $tenant, id: row.e}) "
                        "CREATE (a)-[r:OWNS {tenant: $tenant}]->(b)",
                        {"tenant": TENANT, "rows": rows}, write=True, budget=600)
    elapsed = time.perf_counter() - started
    await driver.close()
    return elapsed, adjacency


def start_service(root: Path, name: str, server: ArcadeDBServer,
                  redis_url: str | None) -> tuple[int, str]:
    port = free_port()
    env = {**os.environ, "UNISON_ENVIRONMENT": "test", "UNISON_GRAPH_URI": server.bolt_url,
           "UNISON_GRAPH_USER": "root", "UNISON_GRAPH_PASSWORD": server.password,
           "UNISON_GRAPH_DATABASE": DATABASE, "UNISON_GRAPH_DIALECT": "arcadedb",
           "UNISON_GRAPH_POOL_SIZE": "16", "UNISON_AUTH_HS256_SECRET": SECRET,
           "UNISON_ACCESS_LOG": "false", "UNISON_LOG_LEVEL": "WARNING"}
    if redis_url:
        env["UNISON_REDIS_URL"] = redis_url
    proc = spawn([sys.executable, "-m", "uvicorn", "unison_context_graph.main:create_app",
                  "--factory", "--port", str(port), "--no-access-log", "--log-level",
                  "warning", "--loop", "uvloop", "--http", "httptools"],
                 root / f"{name}.log", env=env, cwd=REPO_ROOT)

    def ready() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(ready, 60, name)
    return proc.pid, f"http://127.0.0.1:{port}"


async def drive(call: Callable[[int], Awaitable[Any]], clients: int,
                seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def client(k: int) -> None:
        nonlocal errors
        i = k
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            try:
                await call(i)
            except Exception:  # counted, the run goes on
                errors += 1
            latencies.append(time.perf_counter() - t0)
            i += clients

    started = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(clients)))
    wall = time.perf_counter() - started
    latencies.sort()
    n = len(latencies)
    return {"requests": n, "rate": round(n / wall, 1), "errors": errors,
            "p50_ms": round(latencies[n // 2] * 1000, 2) if n else 0.0,
            "p99_ms": round(latencies[min(n - 1, int(n * 0.99))] * 1000, 2) if n else 0.0}


def targets(adjacency: dict[int, list[int]], hot: int, rng: random.Random
            ) -> tuple[list[str], list[tuple[str, str]]]:
    ids = [f"n{i}" for i in rng.sample(range(len(adjacency)), hot)]
    pairs = []
    for start in rng.sample(range(len(adjacency)), hot):
        node = start
        for _ in range(3):
            node = rng.choice(adjacency[node])
        pairs.append((f"n{start}", f"n{node}"))
    return ids, pairs


async def run_cases(args: argparse.Namespace, settings: GraphSettings,
                    urls: dict[str, str], ids: list[str],
                    pairs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    token = mint_token(SECRET, person_id="bench-person", household_id=TENANT,
                       audience="context-graph")
    headers = {"Authorization": f"Bearer {token}"}
    driver = create_driver(settings)
    repo = TraversalRepository(Graph(driver, settings))
    http_paths: dict[str, Callable[[int], str]] = {
        "point": lambda i: f"/v1/nodes/{ids[i % len(ids)]}",
        "1-hop": lambda i: f"/v1/nodes/{ids[i % len(ids)]}/neighbours?direction=out&limit=500",
        "2-hop": lambda i: (f"/v1/nodes/{ids[i % len(ids)]}/neighbours?direction=out"
                            "&depth=2&limit=500"),
        "3-hop path": lambda i: ("/v1/paths/shortest?from={}&to={}&max_depth=3"
                                 .format(*pairs[i % len(pairs)])),
    }
    bolt: dict[str, Callable[[int], Awaitable[Any]]] = {
        "point": lambda i: repo.get_node(TENANT, ids[i % len(ids)]),
        "1-hop": lambda i: repo.neighbours(TENANT, ids[i % len(ids)], 1, Direction.OUT,
                                           None, None, 0, 501),
        "2-hop": lambda i: repo.neighbours(TENANT, ids[i % len(ids)], 2, Direction.OUT,
                                           None, None, 0, 501),
        "3-hop path": lambda i: repo.shortest_path(TENANT, *pairs[i % len(pairs)], 3),
    }
    results = []
    # aiohttp: a cheaper client than httpx, so the load generator sharing these cores
    # costs less of what is measured.
    connector = aiohttp.TCPConnector(limit=args.clients)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as http:
        for case in args.cases.split(","):
            row: dict[str, Any] = {"case": case}
            row["bolt"] = await drive(bolt[case], args.clients, args.seconds)
            for label, base in urls.items():
                path = http_paths[case]

                async def call(i: int, base: str = base, path: Any = path) -> None:
                    async with http.get(base + path(i)) as resp:
                        await resp.read()
                        if resp.status not in (200, 404):
                            raise RuntimeError(resp.status)

                # Warm-up: one pass over the hot set, so the cached service has it all.
                gate = asyncio.Semaphore(args.clients)

                async def warm(i: int, call: Any = call, gate: Any = gate) -> None:
                    async with gate:
                        await call(i)

                await asyncio.gather(*(warm(i) for i in range(len(ids))))
                row[label] = await drive(call, args.clients, args.seconds)
            results.append(row)
            print(format_row(row), flush=True)
    await driver.close()
    return results


def format_row(row: dict[str, Any]) -> str:
    parts = [f"{row['case']:<11}"]
    for label in ("bolt", "uncached", "cached"):
        r = row.get(label)
        if r:
            parts.append(f"{label} {r['rate']:>7.1f}/s p50 {r['p50_ms']:>6.2f} "
                         f"p99 {r['p99_ms']:>7.2f} ms err {r['errors']}")
    return " | ".join(parts)


def cache_counts(base: str) -> dict[str, float]:
    """hit / miss / error totals from the service's /metrics."""
    counts: dict[str, float] = {}
    for line in httpx.get(f"{base}/metrics", timeout=5).text.splitlines():
        if line.startswith("graph_cache_events_total{"):
            event = line.split('event="')[1].split('"')[0]
            counts[event] = counts.get(event, 0.0) + float(line.split()[-1])
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--degree", type=int, default=3)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--hot", type=int, default=500, help="distinct ids / pairs queried")
    parser.add_argument("--cases", default="point,1-hop,2-hop,3-hop path")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="unison-bench-graph-"))
    server = ArcadeDBServer(root / "arcadedb", free_port(), free_port(),
                            password=secrets.token_hex(8), heap="2g")
    redis = RedisServer(root / "redis", free_port())
    pids: list[int] = []
    try:
        server.start()
        redis.start()
        server.ensure_database(DATABASE)
        settings = graph_settings(server)
        load_s, adjacency = asyncio.run(load(settings, args.nodes, args.degree, args.batch))
        print(f"graph: {args.nodes} nodes, {args.nodes * args.degree} edges, "
              f"loaded in {load_s:.1f} s", flush=True)
        ids, pairs = targets(adjacency, args.hot, random.Random(11))
        pid_u, url_u = start_service(root, "uncached", server, None)
        pid_c, url_c = start_service(root, "cached", server, redis.url)
        pids += [pid_u, pid_c]
        results = asyncio.run(run_cases(args, settings, {"uncached": url_u, "cached": url_c},
                                        ids, pairs))
        cache_events = cache_counts(url_c)
        print(f"cache events of the cached service: {cache_events}")
        out = REPO_ROOT / "bench" / "results" / f"graph-{int(time.time())}.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps({"nodes": args.nodes, "edges": args.nodes * args.degree,
                                   "load_seconds": round(load_s, 1), "clients": args.clients,
                                   "seconds": args.seconds, "hot": args.hot,
                                   "cache_events": cache_events,
                                   "results": results}, indent=2))
        print(f"results: {out}")
    finally:
        for pid in pids:
            stop_pid(pid)
        redis.stop()
        server.stop()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
