"""Two live storage processes on one database: audit appends keep one valid chain and KV
check-and-set loses no update, whichever replica each request lands on."""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import time

import httpx
import pytest

from unison_devstack.procs import free_port, stop_pid

EVENTS = 200
CAS_WORKERS_PER_REPLICA = 3
CAS_INCREMENTS_PER_WORKER = 10


async def _wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=base, timeout=2) as c:
        while time.monotonic() < deadline:
            assert proc.poll() is None, "storage process exited during start-up"
            try:
                if (await c.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError(f"{base} not ready within {timeout}s")


def _spawn(port: int, env: dict[str, str], log) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "uvicorn", "unison_storage.main:create_app", "--factory",
           "--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    return subprocess.Popen(cmd, env={**os.environ, **env}, stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)


@pytest.fixture
async def replicas(storage_env, tmp_path):
    procs, bases, logs = [], [], []
    try:
        # One after the other: the first start may create the dev keyring file that
        # both must share.
        for i in range(2):
            port = free_port()
            log = open(tmp_path / f"storage-{i}.log", "wb")  # noqa: SIM115
            logs.append(log)
            proc = _spawn(port, storage_env, log)
            procs.append(proc)
            bases.append(f"http://127.0.0.1:{port}")
            await _wait_ready(bases[-1], proc)
        yield bases
    finally:
        for proc in procs:
            stop_pid(proc.pid)
            proc.wait(timeout=15)
        for log in logs:
            log.close()


async def _cas_worker(client: httpx.AsyncClient, headers: dict[str, str]) -> tuple[int, int]:
    """Increment the counter CAS_INCREMENTS_PER_WORKER times; returns (wins, conflicts)."""
    wins = conflicts = 0
    while wins < CAS_INCREMENTS_PER_WORKER:
        got = await client.get("/v1/kv/race/counter", headers=headers)
        assert got.status_code == 200, got.text
        put = await client.put("/v1/kv/race/counter", json={"value": got.json()["value"] + 1},
                               headers={**headers, "If-Match": got.headers["etag"]})
        if put.status_code == 412:
            conflicts += 1
            continue
        assert put.status_code == 200, put.text
        wins += 1
    return wins, conflicts


@pytest.mark.slow
async def test_two_replicas_keep_one_chain_and_lose_no_update(replicas, alice):
    clients = [httpx.AsyncClient(base_url=b, timeout=30) for b in replicas]
    try:
        created = await clients[0].put("/v1/kv/race/counter", json={"value": 0},
                                       headers=alice.headers)
        assert created.status_code == 201
        gate = asyncio.Semaphore(16)

        async def append(i: int) -> int:
            async with gate:
                r = await clients[i % 2].post("/v1/audit", json={"action": "race",
                                                                "payload": {"i": i}},
                                              headers=alice.headers)
            assert r.status_code == 201, r.text
            return int(r.json()["seq"])

        appends = [append(i) for i in range(EVENTS)]
        cas = [_cas_worker(clients[w % 2], alice.headers)
               for w in range(2 * CAS_WORKERS_PER_REPLICA)]
        started = time.perf_counter()
        results = await asyncio.gather(*appends, *cas)
        elapsed = time.perf_counter() - started
        seqs, outcomes = results[:EVENTS], results[EVENTS:]
        assert sorted(seqs) == list(range(1, EVENTS + 1))

        wins = sum(w for w, _ in outcomes)
        conflicts = sum(c for _, c in outcomes)
        final = await clients[1].get("/v1/kv/race/counter", headers=alice.headers)
        assert final.json()["value"] == wins == 2 * CAS_WORKERS_PER_REPLICA * \
            CAS_INCREMENTS_PER_WORKER
        assert final.headers["etag"] == f'"{wins + 1}"'

        for c in clients:
            verdict = (await c.post("/v1/audit/verify", headers=alice.headers)).json()
            assert verdict == {"valid": True, "checked": EVENTS, "first_broken_seq": None,
                               "reason": None}
        listed, cursor = [], None
        while True:
            url = "/v1/audit?order=asc&limit=1000" + (f"&cursor={cursor}" if cursor else "")
            page = (await clients[0].get(url, headers=alice.headers)).json()
            listed += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert [e["seq"] for e in listed] == list(range(1, EVENTS + 1))
        assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(listed))
        print(f"\n{EVENTS} appends + {wins} CAS wins ({conflicts} conflicts retried) "
              f"across 2 replicas in {elapsed:.2f}s")
    finally:
        for c in clients:
            await c.aclose()
