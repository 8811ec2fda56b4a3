"""Route lookup micro-benchmark: FastAPI's default lookup vs the route index
(unison_shared.routing), in-process ASGI calls into two storage apps built in the same
run, no servers: `uv run python -m bench.routing [--requests N] [--rounds R]`.

Both apps get the same stand-in for the domain services (every use answers NotFound), so
a request pays for middleware, routing, authentication, dependency resolution and the
error rendering, never for a database. Times are CPU time per request (process_time, so
other processes on the machine weigh less), the median over rounds that alternate
between the two apps.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import MutableMapping
from typing import Any

import jwt

SECRET = "bench-routing-secret-long-enough-for-hs256"
for _name, _value in (("UNISON_ENVIRONMENT", "test"), ("UNISON_AUTH_HS256_SECRET", SECRET),
                      ("UNISON_DATABASE_URL", "postgresql+asyncpg://u:p@127.0.0.1:1/db"),
                      ("UNISON_STATE_DIR", tempfile.gettempdir() + "/unison-bench-routing"),
                      ("UNISON_LOG_LEVEL", "WARNING"), ("UNISON_ACCESS_LOG", "false")):
    os.environ.setdefault(_name, _value)

from fastapi import FastAPI  # noqa: E402

from unison_shared.errors import NotFound  # noqa: E402
from unison_shared.routing import default_routing, route_index  # noqa: E402
from unison_storage.main import create_app  # noqa: E402

# (label, method, path): the first router, a /v1 route, the 7th router, a legacy route
# included last, and a path no route matches (every route tried, then 404).
CASES = [
    ("health (first router)", "GET", "/healthz"),
    ("/v1/kv/{namespace}/{key}", "GET", "/v1/kv/bench/k1"),
    ("/v1/whoami", "GET", "/v1/whoami"),
    ("legacy /objects/{id} (last)", "GET", "/objects/abc"),
    ("unknown path (404)", "GET", "/no/such/path"),
]


class _NoServices:
    """Stands in for app.state.services: any use is a NotFound (rendered as usual)."""

    def __getattr__(self, name: str) -> Any:
        raise NotFound("bench: no services")


def _apps() -> tuple[FastAPI, FastAPI]:
    indexed = create_app()
    with default_routing():
        default = create_app()
    assert route_index(indexed) is not None
    assert route_index(default) is None
    for app in (indexed, default):
        app.state.services = _NoServices()
    return default, indexed


def _scope(method: str, path: str, token: str) -> dict[str, Any]:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": b"", "root_path": "",
            "headers": [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode())],
            "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 8082)}


async def _call(app: FastAPI, scope: dict[str, Any]) -> tuple[int, bytes]:
    status = 0
    body = b""

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        nonlocal status, body
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            body += message.get("body", b"")

    await app(dict(scope), receive, send)
    return status, body


async def _time(app: FastAPI, scope: dict[str, Any], n: int) -> float:
    started = time.process_time()
    for _ in range(n):
        await app(dict(scope), _receive, _send)
    return (time.process_time() - started) / n * 1e6


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: MutableMapping[str, Any]) -> None:
    pass


async def run(requests: int, rounds: int) -> list[dict[str, Any]]:
    default, indexed = _apps()
    now = int(time.time())
    token = jwt.encode({"sub": "p-bench", "person_id": "p-bench", "household_id": "h-bench",
                        "aud": "storage", "iat": now, "exp": now + 3600}, SECRET,
                       algorithm="HS256")
    results = []
    for label, method, path in CASES:
        scope = _scope(method, path, token)
        answers = {await _call(app, scope) for app in (default, indexed)}
        # Same status; the body may differ only in per-request ids, so compare lengths.
        assert len({status for status, _ in answers}) == 1, (path, answers)
        assert len({len(body) for _, body in answers}) == 1, (path, answers)
        for app in (default, indexed):
            await _time(app, scope, max(requests // 10, 50))  # warm-up
        times: dict[str, list[float]] = {"default": [], "indexed": []}
        for _ in range(rounds):
            times["default"].append(await _time(default, scope, requests))
            times["indexed"].append(await _time(indexed, scope, requests))
        d, i = statistics.median(times["default"]), statistics.median(times["indexed"])
        results.append({"case": label, "path": path, "status": next(iter(answers))[0],
                        "default_us": d, "indexed_us": i, "ratio": d / i,
                        "candidates": len(_candidates(indexed, scope))})
    return results


def _candidates(app: FastAPI, scope: dict[str, Any]) -> tuple[Any, ...]:
    index = route_index(app)
    assert index is not None
    return index.candidates(scope)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    results = asyncio.run(run(args.requests, args.rounds))
    print(f"{'case':30} {'status':>6} {'tried':>5} {'default us':>11} {'indexed us':>11}"
          f" {'ratio':>6}")
    for r in results:
        print(f"{r['case']:30} {r['status']:>6} {r['candidates']:>5} {r['default_us']:>11.0f}"
              f" {r['indexed_us']:>11.0f} {r['ratio']:>5.2f}x")
    print(f"({args.rounds} rounds x {args.requests} requests per app and case, median; "
          "'tried' = routes the index matches the path against)")


if __name__ == "__main__":
    main()
