"""HTTP load generator, run as its own process: `python -m bench.loadgen < spec.json`.

N clients, each with one keep-alive connection (like wrk's connections), loop over a
scenario's request for a warm-up and then a measured window; a request counts when it
starts inside the window. Prints one JSON summary on stdout.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from typing import Any

import aiohttp
import orjson
import uvloop

from unison_devstack.tokens import mint_token

from .scenarios import SCENARIOS, Client, Scenario
from .stats import summarize


async def _client(spec: dict[str, Any], index: int) -> Client:
    person, household = f"p-bench-{index}", f"h-{spec['run_id']}-{index}"
    token = mint_token(spec["secret"], person_id=person, household_id=household,
                       audience="storage", ttl_seconds=3600)
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=1, ttl_dns_cache=None),
        headers={"Authorization": f"Bearer {token}"},
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=60),
    )
    return Client(index, spec["base_url"], session, person, household)


async def _worker(scenario: Scenario, c: Client, start: float, end: float,
                  latencies: list[float], statuses: Counter[str]) -> None:
    while True:
        t0 = time.perf_counter()
        if t0 >= end:
            return
        try:
            status = await scenario.step(c)
        except (aiohttp.ClientError, TimeoutError) as exc:
            if t0 >= start:
                statuses[f"error:{type(exc).__name__}"] += 1
            continue
        if t0 >= start:
            latencies.append(time.perf_counter() - t0)
            statuses[str(status)] += 1


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    scenario = SCENARIOS[spec["scenario"]]()
    clients = [await _client(spec, i) for i in range(spec["concurrency"])]
    try:
        await asyncio.gather(*(scenario.setup(c) for c in clients))
        latencies: list[float] = []
        statuses: Counter[str] = Counter()
        cpu0 = time.process_time()
        start = time.perf_counter() + spec["warmup"]
        end = start + spec["seconds"]
        await asyncio.gather(*(_worker(scenario, c, start, end, latencies, statuses)
                               for c in clients))
        cpu = time.process_time() - cpu0
    finally:
        for c in clients:
            await c.session.close()
    ok = sum(n for s, n in statuses.items() if s.isdigit() and int(s) in scenario.ok)
    conflicts = sum(n for s, n in statuses.items()
                    if s.isdigit() and int(s) in scenario.conflict)
    errors = sum(statuses.values()) - ok - conflicts
    return summarize(latencies, spec["seconds"], ok, statuses, scenario=scenario.name,
                     kind=scenario.kind, concurrency=spec["concurrency"],
                     conflicts=conflicts, errors=errors,
                     http_requests_total=sum(c.sent for c in clients),
                     loadgen_cpu_s=round(cpu, 2))


def main() -> None:
    spec = orjson.loads(sys.stdin.buffer.read())
    result = uvloop.run(run(spec))
    sys.stdout.buffer.write(orjson.dumps(result))


if __name__ == "__main__":
    main()
