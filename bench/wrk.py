"""HTTP load from wrk (C, epoll: tens of µs of CPU per request, where a Python client
costs hundreds on the 2 shared cores). `wrk -t N -c N`: each thread owns one keep-alive
connection and is one client; a Lua script replays its plan (its token, its requests,
its keys' latest ETags for check-and-set) and counts the answers."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import httpx

from unison_devstack.tokens import mint_token

from .scenarios import (
    Scenario,
    Seeded,
    content_type,
    follow_ups,
    request,
    seed_requests,
    seeded,
)
from .servers import SECRET

KEYS_PER_CLIENT = 8
_LUA = r"""
local PLANS, count, threads = %s, 0, {}
function setup(thread)
  count = count + 1; thread:set("tid", count); table.insert(threads, thread)
end
function init(args) plan, i, ok, bad, cur = PLANS[tid], 0, 0, 0, nil end
function request()
  i = i %% #plan.reqs + 1
  cur = plan.reqs[i]
  local h = {Authorization = plan.auth}
  if cur.b then h["Content-Type"] = cur.t end
  if cur.k then h["If-Match"] = plan.etags[cur.k] end
  return wrk.format(cur.m, cur.p, h, cur.b)
end
function response(status, headers, body)
  if status >= 300 then bad = bad + 1; return end
  ok = ok + 1
  if cur.k then plan.etags[cur.k] = headers["etag"] or headers["ETag"] end
end
function done(summary, latency, requests)
  local o, b, e = 0, 0, summary.errors
  for _, t in ipairs(threads) do o, b = o + t:get("ok"), b + t:get("bad") end
  io.write(string.format('WRKRESULT {"ok": %%d, "bad": %%d, "us": %%d, "p50_us": %%d, ' ..
    '"p99_us": %%d, "socket_errors": %%d}\n', o, b, summary.duration, latency:percentile(50),
    latency:percentile(99), e.connect + e.read + e.write + e.timeout))
end
"""


def _lua(value: str | None) -> str:
    # JSON's escaping of ASCII text (quotes, backslashes) is valid Lua.
    if value is None or not value.isascii():
        raise ValueError("wrk plans carry ASCII only")
    return json.dumps(value)


def _plan(base_url: str, s: Scenario, client: int, conc: int) -> str:
    """Seed one client's keys over HTTP and answer its plan as a Lua table."""
    token = mint_token(SECRET, person_id=f"p-{client}", household_id=f"h{conc}-{client}")
    keys = [f"c{client}-k{k}" for k in range(KEYS_PER_CLIENT)]
    seeds: dict[str, Seeded] = {}
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"},
                      timeout=30) as http:
        for key, method, path, body in seed_requests(s, keys):
            r = http.request(method, path, content=body,
                             headers={"Content-Type": content_type(path)})
            seeds[key] = seeded(r.status_code, dict(r.headers), r.content)
            for then_method, then_path, then_body in follow_ups(s, seeds[key]):
                done = http.request(then_method, then_path, content=then_body,
                                    headers={"Content-Type": content_type(then_path)})
                seeded(done.status_code, dict(done.headers), done.content)
    reqs = []
    for key in keys:
        method, path, payload = request(s, key, seeds.get(key))
        fields = [f"m = {_lua(method)}", f"p = {_lua(path)}"]
        if payload is not None:
            fields += [f"b = {_lua(payload)}", f"t = {_lua(content_type(path))}"]
        if s.cas:
            fields.append(f"k = {_lua(key)}")
        reqs.append("{" + ", ".join(fields) + "}")
    etags = ", ".join(f"[{_lua(k)}] = {_lua(v.etag)}" for k, v in seeds.items() if s.cas)
    auth = _lua(f"Bearer {token}")
    return f"{{auth = {auth}, reqs = {{{', '.join(reqs)}}}, etags = {{{etags}}}}}"


def run(base_url: str, s: Scenario, conc: int, seconds: float) -> dict[str, Any]:
    """`conc` clients for `seconds`: ok/s, p50/p99 ms and the failed answers."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    plans = "{" + ", ".join(_plan(base_url, s, i, conc) for i in range(conc)) + "}"
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(_LUA % plans)
    try:
        proc = subprocess.run([wrk, "-t", str(conc), "-c", str(conc), "-d",
                               f"{max(1, round(seconds))}s", "--timeout", "30s", "-s", fh.name,
                               base_url], capture_output=True, text=True, check=False,
                              timeout=seconds + 60)
    finally:
        Path(fh.name).unlink(missing_ok=True)
    m = re.search(r"WRKRESULT (\{.*\})", proc.stdout)
    if proc.returncode != 0 or m is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr[-800:]}")
    w = json.loads(m.group(1))
    window = w["us"] / 1e6
    return {"scenario": s.name, "kind": s.kind, "clients": conc,
            "rps": round(w["ok"] / window, 1), "p50_ms": round(w["p50_us"] / 1000, 2),
            "p99_ms": round(w["p99_us"] / 1000, 2), "errors": w["bad"] + w["socket_errors"]}
