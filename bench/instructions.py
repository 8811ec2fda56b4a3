"""Instructions per request of the storage app's hot paths, in-process:
`uv run python -m bench.instructions [--requests N] [--rounds R] [--cases a,b]`.

The app runs with its lifespan against a real PostgreSQL and Redis (started here, as in
`make bench`); requests are ASGI calls made one after another, so no HTTP server, no
load generator and no queueing. Linux `perf stat` counts the instructions this process
executes while a case runs: unlike time, the count hardly moves with the machine's load
(repeated rounds agree within ~1%), so two versions of the code can be compared a
minute apart. It counts the Python side only (the service's work per request); the
database's CPU is not in it. Throughput targets are measured by `bench.run`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import jwt
import uvloop

from .cpu import InstructionCounter
from .servers import BENCH_SECRET, STORAGE_DB, Backends

_VALUE = b'{"value": {"a": 1, "b": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}}'
# label -> (method, path, body); the same shapes as bench.scenarios' requests.
CASES: dict[str, tuple[str, str, bytes]] = {
    "whoami": ("GET", "/v1/whoami", b""),
    "kv_read": ("GET", "/v1/kv/bench/k1", b""),
    "kv_write": ("PUT", "/v1/kv/bench/k1", _VALUE),
    "memory_write": ("POST", "/v1/memory/sessions/s1/entries",
                     b'{"payload": {"a": 1, "b": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}, '
                     b'"ttl_seconds": 3600}'),
    "memory_read": ("GET", "/v1/memory/sessions/s1/entries/latest", b""),
    "vault_write": ("PUT", "/v1/vault/secrets/bench-secret",
                    b'{"value": "s3cr3t-xxxxxxxxxxxxxxxxxxxxxxxx"}'),
    "vault_read": ("GET", "/v1/vault/secrets/bench-secret", b""),
    "audit_append": ("POST", "/v1/audit",
                     b'{"action": "bench", "target": "t", "payload": {"a": 1}}'),
    # The object the setup uploads with the Idempotency-Key below, so its id is known.
    "object_metadata": ("GET", "/v1/objects/{object_id}/metadata", b""),
}
_OBJECT_KEY = "bench-object"
Call = Callable[..., Awaitable[int]]


def _caller(app: Any) -> Call:
    now = int(time.time())
    token = jwt.encode({"sub": "p1", "person_id": "p1", "household_id": "h1",
                        "aud": "storage", "iat": now, "exp": now + 3600}, BENCH_SECRET,
                       algorithm="HS256")

    async def call(method: str, path: str, body: bytes,
                   extra: tuple[tuple[bytes, bytes], ...] = ()) -> int:
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": method, "scheme": "http", "path": path,
                 "raw_path": path.encode(), "query_string": b"", "root_path": "",
                 "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 8082),
                 "headers": [(b"host", b"storage"),
                             (b"authorization", f"Bearer {token}".encode()),
                             (b"content-type", b"application/json"),
                             (b"content-length", str(len(body)).encode()), *extra]}
        status: list[int] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        await app(scope, receive, send)
        return status[0]

    return call


async def _measure(cases: list[str], requests: int, rounds: int) -> dict[str, list[float]]:
    from unison_storage.main import create_app
    from unison_storage.objects.idempotency import object_id_for

    app = create_app()
    call = _caller(app)
    counts: dict[str, list[float]] = {c: [] for c in cases}
    object_id = object_id_for("h1", "p1", _OBJECT_KEY)
    requests_of = {label: (method, path.format(object_id=object_id), body)
                   for label, (method, path, body) in CASES.items()}
    async with app.router.lifespan_context(app):
        for label in ("kv_write", "memory_write", "vault_write"):  # what the reads read
            status = await call(*requests_of[label])
            if status >= 400:
                raise SystemExit(f"setting up {label}: HTTP {status}")
        status = await call("POST", "/v1/objects", b"x" * 1024,
                            ((b"idempotency-key", _OBJECT_KEY.encode()),))
        if status >= 400:
            raise SystemExit(f"setting up the object: HTTP {status}")
        for _ in range(rounds):
            for label in cases:
                for _ in range(max(50, requests // 10)):  # warm caches and pools
                    status = await call(*requests_of[label])
                if status >= 400:
                    raise SystemExit(f"{label}: HTTP {status}")
                counter = InstructionCounter([os.getpid()])
                for _ in range(requests):
                    await call(*requests_of[label])
                total = counter.stop()
                if total is None:
                    raise SystemExit(f"no instruction count: {InstructionCounter.missing}")
                counts[label].append(total / requests)
    return counts


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__)
    p.add_argument("--requests", type=int, default=1500, help="requests per case and round")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--cases", default=",".join(CASES))
    args = p.parse_args(argv)
    cases = [c for c in args.cases.split(",") if c]
    unknown = set(cases) - set(CASES)
    if unknown:
        p.error(f"unknown cases: {sorted(unknown)}; known: {sorted(CASES)}")
    root = Path(tempfile.mkdtemp(prefix="unison-instr-"))
    backends = Backends(root)
    print(f"starting PostgreSQL and Redis in {root}", file=sys.stderr, flush=True)
    backends.start()
    try:
        os.environ.update({
            "UNISON_ENVIRONMENT": "test", "UNISON_AUTH_HS256_SECRET": BENCH_SECRET,
            "UNISON_DATABASE_URL": backends.postgres.url(STORAGE_DB),
            "UNISON_REDIS_URL": backends.redis.url, "UNISON_STATE_DIR": str(root / "state"),
            "STORAGE_OBJECT_FS_ROOT": str(root / "objects"), "UNISON_LOG_LEVEL": "WARNING",
            "UNISON_ACCESS_LOG": "false"})
        counts = uvloop.run(_measure(cases, args.requests, args.rounds))
    finally:
        backends.stop()
    floor = statistics.median(counts["whoami"]) if counts.get("whoami") else None
    print("| case | k-instructions/request (median) | rounds | whoami / case |")
    print("|---|---|---|---|")
    for label, values in counts.items():
        median = statistics.median(values)
        spread = ", ".join(f"{v / 1000:.0f}" for v in values)
        ratio = f"{floor / median:.2f}" if floor else "-"
        print(f"| {label} | {median / 1000:.0f} | {spread} | {ratio} |")


if __name__ == "__main__":
    main()
