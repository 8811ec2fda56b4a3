"""HTTP load from wrk, run as its own process: `python -m bench.wrkgen < spec.json`.

The same scenarios, clients and summary as bench.loadgen, but the measured window is
driven by wrk (C, epoll): it costs the shared 2 cores a few tens of microseconds per
request where the Python client costs hundreds, so more of the machine is left to the
service and PostgreSQL. Each wrk thread owns one connection and is one client (its own
person, household and keys); the Python client only prepares the data, warms the server
up, and hands wrk each client's request cycle and its latest ETags.
"""

from __future__ import annotations

import asyncio
import json
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import uvloop

from .loadgen import _client, _worker
from .scenarios import SCENARIOS, Client, Scenario

MARKER = "WRKRESULT "

# Per thread: one client's requests in a loop. A 412 answer (a lost check-and-set) makes
# the next request a GET of that key to learn its ETag, as bench.loadgen does; only the
# planned requests are counted as ok/conflict/other.
_LUA = r"""
local PLANS = %(plans)s
local count = 0
local threads = {}

function setup(thread)
  count = count + 1
  thread:set("tid", count)
  table.insert(threads, thread)
end

function init(args)
  plan = PLANS[tid]
  i, ok, conflict, other, sent = 0, 0, 0, 0, 0
  refresh, pending = nil, nil
end

local function etag_of(headers)
  return headers["etag"] or headers["ETag"]
end

function request()
  sent = sent + 1
  local h = {Authorization = plan.auth}
  if refresh then
    pending = {refresh = true, k = refresh.k}
    local path = refresh.p
    refresh = nil
    return wrk.format("GET", path, h)
  end
  i = i %% #plan.reqs + 1
  local r = plan.reqs[i]
  if r.b then h["Content-Type"] = "application/json" end
  if r.k then h["If-Match"] = plan.etags[r.k] end
  pending = r
  return wrk.format(r.m, r.p, h, r.b)
end

function response(status, headers, body)
  if pending.refresh then
    if status == 200 then plan.etags[pending.k] = etag_of(headers) end
    return
  end
  if status == 200 or status == 201 then
    ok = ok + 1
    if pending.k then plan.etags[pending.k] = etag_of(headers) end
  elseif status == 412 then
    conflict = conflict + 1
    refresh = pending
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local t_ok, t_conflict, t_other, t_sent = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    t_ok = t_ok + t:get("ok")
    t_conflict = t_conflict + t:get("conflict")
    t_other = t_other + t:get("other")
    t_sent = t_sent + t:get("sent")
  end
  local e = summary.errors
  io.write(string.format(
    '%(marker)s{"ok": %%d, "conflict": %%d, "other": %%d, "sent": %%d, "duration_us": %%d, ' ..
    '"p50_us": %%d, "p95_us": %%d, "p99_us": %%d, "max_us": %%d, "mean_us": %%f, ' ..
    '"socket_errors": %%d}\n',
    t_ok, t_conflict, t_other, t_sent, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    latency.mean, e.connect + e.read + e.write + e.timeout))
end
"""


def wrk_path() -> str | None:
    return shutil.which("wrk")


def _lua_string(value: str) -> str:
    # Every string here is ASCII made by this module (paths, JSON bodies, tokens, ETags);
    # JSON's escaping of quotes and backslashes is valid Lua for ASCII text.
    if not value.isascii():
        raise ValueError("wrk plans carry ASCII only")
    return json.dumps(value)


def _lua_plan(scenario: Scenario, c: Client, token: str) -> str:
    reqs = []
    for p in scenario.cycle(c):
        fields = [f"m = {_lua_string(p.method)}", f"p = {_lua_string(p.path)}"]
        if p.body is not None:
            fields.append(f"b = {_lua_string(p.body.decode())}")
        if p.cas_key is not None:
            fields.append(f"k = {_lua_string(p.cas_key)}")
        reqs.append("{" + ", ".join(fields) + "}")
    etags = ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in c.etags.items())
    return (f"{{auth = {_lua_string('Bearer ' + token)}, reqs = {{{', '.join(reqs)}}}, "
            f"etags = {{{etags}}}}}")


async def _prepare(spec: dict[str, Any], scenario: Scenario) -> tuple[list[Client], list[str]]:
    """Set up every client's data and warm the server up with the Python client, so the
    ETags handed to wrk are the current ones."""
    clients = [await _client(spec, i) for i in range(spec["concurrency"])]
    tokens = [c.session.headers["Authorization"].removeprefix("Bearer ") for c in clients]
    try:
        await asyncio.gather(*(scenario.setup(c) for c in clients))
        if spec["warmup"] > 0:
            now = time.perf_counter()
            end = now + spec["warmup"]
            latencies: list[float] = []
            statuses: Counter[str] = Counter()
            # start == end: nothing is recorded, the requests only warm the server up.
            await asyncio.gather(*(_worker(scenario, c, end, end, latencies, statuses)
                                   for c in clients))
    finally:
        for c in clients:
            await c.session.close()
    return clients, tokens


def run(spec: dict[str, Any]) -> dict[str, Any]:
    wrk = wrk_path()
    if wrk is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    scenario = SCENARIOS[spec["scenario"]]()
    clients, tokens = uvloop.run(_prepare(spec, scenario))
    prepared_requests = sum(c.sent for c in clients)
    plans = "{" + ", ".join(_lua_plan(scenario, c, t) for c, t in zip(clients, tokens,
                                                                       strict=True)) + "}"
    script = _LUA % {"plans": plans, "marker": MARKER}
    n = spec["concurrency"]
    seconds = max(1, round(spec["seconds"]))
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(script)
    try:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.run(
            [wrk, "-t", str(n), "-c", str(n), "-d", f"{seconds}s", "--timeout", "30s",
             "-s", fh.name, spec["base_url"]],
            capture_output=True, text=True, timeout=seconds + 60, check=False)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        Path(fh.name).unlink(missing_ok=True)
    match = re.search(re.escape(MARKER) + r"(\{.*\})", proc.stdout)
    if proc.returncode != 0 or match is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr[-1500:]}"
                           f"{proc.stdout[-1500:]}")
    w = json.loads(match.group(1))
    window = w["duration_us"] / 1e6
    wrk_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "ok": w["ok"], "seconds": round(window, 3),
        "rps": round(w["ok"] / window, 1) if window else 0.0,
        "p50_ms": round(w["p50_us"] / 1000, 2), "p95_ms": round(w["p95_us"] / 1000, 2),
        "p99_ms": round(w["p99_us"] / 1000, 2), "max_ms": round(w["max_us"] / 1000, 2),
        "mean_ms": round(w["mean_us"] / 1000, 2),
        "statuses": {"ok": w["ok"], "412": w["conflict"], "other": w["other"],
                     "socket_errors": w["socket_errors"]},
        "scenario": scenario.name, "kind": scenario.kind, "concurrency": n,
        "conflicts": w["conflict"], "errors": w["other"] + w["socket_errors"],
        "http_requests_total": prepared_requests + w["sent"],
        # The measured window only: the client's CPU per request there.
        "loadgen_cpu_s": round(wrk_cpu, 2), "loadgen_requests": w["sent"],
        "loadgen": "wrk",
    }


def main() -> None:
    spec = orjson.loads(sys.stdin.buffer.read())
    sys.stdout.buffer.write(orjson.dumps(run(spec)))


if __name__ == "__main__":
    main()
