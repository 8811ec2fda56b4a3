"""Context service benchmark: `uv run python -m bench.context` (docs/performance.md).

A fresh PostgreSQL (fsync on) and the context service as its own uvicorn process; wrk
drives each scenario at 1 and 16 clients, each client a person in a household of its
own with one keep-alive connection: profile read and write, conversation append and
page read, each beside the same server's authenticated no-op (`GET /v1/whoami`, the
framework floor) measured in the same run. Prints rate, p50 and p99 per case and the
ratio to the floor; writes bench/results/context.json.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

from unison_devstack.postgres import PostgresServer
from unison_devstack.procs import free_port, spawn, stop_pid, wait_until
from unison_devstack.tokens import mint_token

REPO_ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-context-hs256-secret-long-enough-for-hmac"
KEYRING = json.dumps({"current": "v1", "keys": {"v1": base64.b64encode(b"c" * 32).decode()}})
DATABASE = "context_bench"
PROFILE = {"locale": "en-GB", "language": "en", "voice": {"wakeword": "unison"},
           "dashboard": {"preferences": {"theme": "dark", "density": "compact"}},
           "payments": {"instruments": [{"instrument_id": "i1", "provider": "stripe",
                                         "kind": "card", "brand": "visa", "last4": "4242"}]}}
MESSAGE = {"messages": [{"role": "user", "content": "turn the lights off in the kitchen",
                         "metadata": {"channel": "voice"}}]}
# (name, kind, method, path with {pid}, body)
SCENARIOS = [
    ("floor (whoami)", "floor", "GET", "/v1/whoami", None),
    ("profile read", "read", "GET", "/v1/profiles/{pid}", None),
    ("profile write", "write", "PUT", "/v1/profiles/{pid}", PROFILE),
    ("conversation append", "write", "POST", "/v1/conversations/{pid}/sessions/s/messages",
     MESSAGE),
    ("conversation page", "read", "GET",
     "/v1/conversations/{pid}/sessions/s/messages?order=desc&limit=20", None),
]
_LUA = r"""
local PLANS = %s
local count, threads = 0, {}
function setup(thread)
  count = count + 1
  thread:set("tid", count)
  table.insert(threads, thread)
end
function init(args)
  plan, ok, bad = PLANS[tid], 0, 0
end
function request()
  local h = {Authorization = plan.auth}
  if plan.b then h["Content-Type"] = "application/json" end
  return wrk.format(plan.m, plan.p, h, plan.b)
end
function response(status, headers, body)
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


def _client(i: int, conc: int) -> tuple[str, str]:
    pid = f"bench-{conc}-{i}"
    return pid, mint_token(SECRET, person_id=pid, household_id=f"h-{conc}-{i}",
                           audience=["context"], ttl_seconds=3600)


def seed(base: str, conc: int) -> None:
    """Each client's profile and a session with 200 messages."""
    for i in range(conc):
        pid, token = _client(i, conc)
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"},
                          timeout=30) as http:
            http.put(f"/v1/profiles/{pid}", json=PROFILE).raise_for_status()
            for _ in range(4):
                http.post(f"/v1/conversations/{pid}/sessions/s/messages", json={
                    "messages": MESSAGE["messages"] * 50}).raise_for_status()


def run_wrk(base: str, scenario: tuple[Any, ...], conc: int, seconds: int) -> dict[str, Any]:
    name, kind, method, path, body = scenario
    plans = []
    for i in range(conc):
        pid, token = _client(i, conc)
        fields = [f"m = {json.dumps(method)}", f"p = {json.dumps(path.format(pid=pid))}",
                  f"auth = {json.dumps('Bearer ' + token)}"]
        if body is not None:
            fields.append(f"b = {json.dumps(json.dumps(body))}")
        plans.append("{" + ", ".join(fields) + "}")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(_LUA % ("{" + ", ".join(plans) + "}"))
    try:
        proc = subprocess.run(["wrk", "-t", str(conc), "-c", str(conc), "-d", f"{seconds}s",
                               "--timeout", "30s", "-s", fh.name, base],
                              capture_output=True, text=True, check=False,
                              timeout=seconds + 60)
    finally:
        Path(fh.name).unlink(missing_ok=True)
    m = re.search(r"WRKRESULT (\{.*\})", proc.stdout)
    if proc.returncode != 0 or m is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr[-800:]}")
    w = json.loads(m.group(1))
    return {"scenario": name, "kind": kind, "clients": conc,
            "rps": round(w["ok"] / (w["us"] / 1e6), 1), "p50_ms": round(w["p50_us"] / 1000, 2),
            "p99_ms": round(w["p99_us"] / 1000, 2), "errors": w["bad"] + w["socket_errors"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 16])
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk; `make bench` does)")
    root = Path(tempfile.mkdtemp(prefix="bench-context-"))
    pg = PostgresServer(root / "postgres", free_port(), fsync=True)
    pid = None
    try:
        pg.start()
        pg.ensure_roles()
        pg.ensure_database(DATABASE)
        urls = pg.urls(DATABASE)
        subprocess.run([sys.executable, "-c", "import sys; from unison_context.cli import "
                        "run_migrations; run_migrations(sys.argv[1])", urls["owner"]],
                       check=True, cwd=REPO_ROOT, capture_output=True)
        port = free_port()
        env = {**os.environ, "UNISON_ENVIRONMENT": "test", "UNISON_DATABASE_URL":
               urls["runtime"], "UNISON_DATABASE_SYSTEM_URL": urls["system"],
               "UNISON_AUTH_HS256_SECRET": SECRET, "UNISON_KEK_KEYRING": KEYRING,
               "UNISON_STATE_DIR": str(root / "state"), "UNISON_LOG_LEVEL": "WARNING",
               "UNISON_ACCESS_LOG": "false", "CONTEXT_MAX_MESSAGES_PER_SESSION": "100000000"}
        pid = spawn([sys.executable, "-m", "uvicorn", "unison_context.main:create_app",
                     "--factory", "--host", "127.0.0.1", "--port", str(port), "--loop",
                     "uvloop", "--http", "httptools", "--no-access-log", "--log-level",
                     "warning"], root / "context.log", env=env, cwd=REPO_ROOT).pid
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: _ready(base), 60, "context service")
        results = []
        for conc in args.clients:
            seed(base, conc)
            for scenario in SCENARIOS:
                results.append(run_wrk(base, scenario, conc, args.seconds))
        report(results)
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


def report(results: list[dict[str, Any]]) -> None:
    floors = {r["clients"]: r["rps"] for r in results if r["kind"] == "floor"}
    print(f"{'scenario':<22}{'clients':>8}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'/floor':>8}{'errors':>8}")
    for r in results:
        r["ratio"] = round(r["rps"] / floors[r["clients"]], 2) if floors.get(r["clients"]) else None
        print(f"{r['scenario']:<22}{r['clients']:>8}{r['rps']:>10}{r['p50_ms']:>9}"
              f"{r['p99_ms']:>9}{r['ratio']!s:>8}{r['errors']:>8}")
    out = REPO_ROOT / "bench" / "results" / "context.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
