"""Two live storage processes on one database: audit appends keep one valid chain and KV
check-and-set loses no update, whichever replica each request lands on."""

from __future__ import annotations

import asyncio
import itertools
import time

import httpx
import pytest

from unison_devstack.procs import stop_pid

from .conftest import start_storage_process

EVENTS = 200
CAS_WORKERS_PER_REPLICA = 3
CAS_INCREMENTS_PER_WORKER = 10


@pytest.fixture
def replicas(storage_env, tmp_path):
    procs, bases = [], []
    try:
        # One after the other: the first start may create the dev keyring file that
        # both must share.
        for i in range(2):
            proc, base = start_storage_process(storage_env, tmp_path / f"storage-{i}.log")
            procs.append(proc)
            bases.append(base)
        yield bases
    finally:
        for proc in procs:
            stop_pid(proc.pid)


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
                               "reason": None, "checkpoints_checked": 0}
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
