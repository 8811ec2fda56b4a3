"""Instructions per request, counted by callgrind in-process:
`python -m bench.instructions [--requests N] [--cases a,b] [--keep]`.

The storage app runs with its lifespan against a real PostgreSQL and Redis; requests are
ASGI calls one after another, in a process under `valgrind --tool=callgrind` (this host
has no `perf stat` counter). Callgrind collects only inside a ctypes callback and dumps
when it returns, so each batch is one dump; per case, after a warm-up, batches of N and
2N requests run and (I(2N) - I(N)) / N is the figure. The service's Python side and the
C it calls are counted, not PostgreSQL or Redis (docs/performance.md, Method)."""

from __future__ import annotations

import argparse
import ctypes
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import MutableMapping
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from .scenarios import (
    SCENARIOS,
    Scenario,
    Seeded,
    content_type,
    follow_ups,
    request,
    seed_requests,
    seeded,
)
from .servers import REPO_ROOT, SECRET, Backends

MARK = "_CallPythonObject"  # CPython's ctypes callback entry: the only callback we make
_TOTALS = re.compile(r"^(?:totals|summary):\s*(\d+)", re.M)


class Client:
    """ASGI calls as one person; `call` answers (status, lower-case headers, body)."""

    def __init__(self, app: Any) -> None:
        from unison_devstack.tokens import mint_token

        self.app = app
        token = mint_token(SECRET, person_id="p-instr", household_id="h-instr")
        self.auth = f"Bearer {token}".encode()

    async def call(self, method: str, path: str, body: str | None,
                   if_match: str | None = None) -> tuple[int, dict[str, str], bytes]:
        raw = (body or "").encode()
        path, _, query = path.partition("?")
        headers = [(b"host", b"storage"), (b"authorization", self.auth),
                   (b"content-type", content_type(path).encode()),
                   (b"content-length", str(len(raw)).encode()),
                   *([(b"if-match", if_match.encode())] if if_match else [])]
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
                 "query_string": query.encode(), "root_path": "", "headers": headers,
                 "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 8082)}
        out: dict[str, Any] = {"body": b""}

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": raw, "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                out["status"] = message["status"]
                out["headers"] = {k.decode().lower(): v.decode() for k, v in message["headers"]}
            else:
                out["body"] += message.get("body", b"")

        await self.app(scope, receive, send)
        return out["status"], out["headers"], out["body"]


async def _batch(c: Client, s: Scenario, seed: Seeded | None, n: int) -> None:
    for _ in range(n):
        method, path, body = request(s, "k0", seed)
        status, headers, answer = await c.call(method, path, body,
                                               seed.etag if s.cas and seed else None)
        if status >= 400:
            raise RuntimeError(f"{s.name}: {method} {path} answered {status}: {answer[:200]!r}")
        if s.cas and seed:
            seed.etag = headers["etag"]


def child(cases: list[str], n: int, warmup: int) -> None:
    """Runs under callgrind: prints the batches it made, in the order of the dumps."""
    import uvloop

    from unison_storage.main import create_app

    app = create_app()
    c, loop, stack = Client(app), uvloop.new_event_loop(), AsyncExitStack()
    loop.run_until_complete(stack.enter_async_context(app.router.lifespan_context(app)))
    failures: list[BaseException] = []
    batches = []

    def counted(s: Scenario, seed: Seeded | None, size: int) -> None:
        def body() -> int:
            try:
                loop.run_until_complete(_batch(c, s, seed, size))
            except BaseException as exc:  # ctypes would print and drop it
                failures.append(exc)
            return 0

        ctypes.CFUNCTYPE(ctypes.c_int)(body)()  # collected from entry to return: one dump
        if failures:
            raise failures[0]
        batches.append([s.name, size])

    for name in cases:
        s = SCENARIOS[name]
        seed = None
        for _, method, path, body in seed_requests(s, ["k0"]):
            seed = seeded(*loop.run_until_complete(c.call(method, path, body)))
        for method, path, body in follow_ups(s, seed):
            seeded(*loop.run_until_complete(c.call(method, path, body)))
        loop.run_until_complete(_batch(c, s, seed, warmup))
        for size in (n, 2 * n):
            counted(s, seed, size)
    loop.run_until_complete(stack.aclose())
    print(json.dumps(batches))


def measure(backends: Backends, out_dir: Path, cases: list[str], n: int,
            warmup: int) -> dict[str, int]:
    """Instructions per request of each case, in a child process under callgrind."""
    cmd = ["valgrind", "--tool=callgrind", "--collect-atstart=no", f"--toggle-collect={MARK}",
           f"--dump-after={MARK}", f"--callgrind-out-file={out_dir}/callgrind.out",
           sys.executable, "-m", "bench.instructions", "--child", ",".join(cases),
           "--requests", str(n), "--warmup", str(warmup)]
    env = {**backends.env(), "PYTHONHASHSEED": "0",
           "STORAGE_SWEEP_INTERVAL_SECONDS": "86400"}  # no sweep inside a batch
    proc = subprocess.run(cmd, env=env, cwd=REPO_ROOT, capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise SystemExit(f"callgrind run failed: {proc.stderr[-3000:]}")
    per: dict[str, int] = {}  # I(N), then I(2N) - I(N)
    for i, (name, _) in enumerate(json.loads(proc.stdout.strip().splitlines()[-1]), 1):
        m = _TOTALS.search((out_dir / f"callgrind.out.{i}").read_text())
        assert m is not None, f"no totals in dump {i}"
        per[name] = int(m.group(1)) - per[name] if name in per else int(m.group(1))
    return {name: round(per_2n / n) for name, per_2n in per.items()}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__)
    p.add_argument("--requests", type=int, default=100, help="N: batches of N and 2N")
    p.add_argument("--warmup", type=int, default=30, help="uncounted requests per case")
    p.add_argument("--cases", default=",".join(SCENARIOS))
    p.add_argument("--keep", action="store_true", help="keep the callgrind dumps")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return child(args.child.split(","), args.requests, args.warmup)
    cases = [c for c in args.cases.split(",") if c]
    if unknown := set(cases) - set(SCENARIOS):
        p.error(f"unknown cases {sorted(unknown)}; known: {sorted(SCENARIOS)}")
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    root = Path(tempfile.mkdtemp(prefix="unison-instr-"))
    backends = Backends(root)
    backends.start()
    try:
        counts = measure(backends, root, cases, args.requests, args.warmup)
    finally:
        backends.stop()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print("| case | k-instructions/request | floor / case |\n|---|---|---|")
    for name, value in counts.items():
        ratio = f"{counts['whoami'] / value:.2f}" if "whoami" in counts else "-"
        print(f"| {name} | {value / 1000:,.0f} | {ratio} |")
    if args.keep:
        print(f"callgrind dumps in {root} (callgrind_annotate callgrind.out.N)")


if __name__ == "__main__":
    main()
