"""Cache-aside with per-tenant generations: a read right after an acknowledged write sees
it (also under concurrency), hits are real hits, and every key has a TTL."""

from __future__ import annotations

import asyncio

import redis as redis_sync

from .. import graph_servers


def metric(text: str, keyspace: str, event: str) -> float:
    needle = f'graph_cache_events_total{{event="{event}",keyspace="{keyspace}"}}'
    for line in text.splitlines():
        if line.startswith(needle):
            return float(line.split()[-1])
    return 0.0


async def test_reads_are_cached_and_writes_are_seen_at_once(client, alice):
    h = alice.headers
    await client.put("/v1/nodes/c1", json={"id": "c1", "labels": ["Device"]}, headers=h)
    before = (await client.get("/metrics")).text
    for _ in range(3):
        assert (await client.get("/v1/nodes/c1", headers=h)).json()["props"] == {}
    after = (await client.get("/metrics")).text
    assert metric(after, "graph:hot:context", "hit") >= metric(
        before, "graph:hot:context", "hit") + 2
    assert 'graph_query_duration_seconds_count{query="nodes.get"}' in after
    assert 'graph_query_duration_seconds_count{query="nodes.upsert"}' in after
    await client.patch("/v1/nodes/c1", json={"props": {"status": "on"}}, headers=h)
    assert (await client.get("/v1/nodes/c1", headers=h)).json()["props"] == {"status": "on"}
    # A cached traversal is dropped by a relationship write too.
    await client.put("/v1/nodes/c2", json={"id": "c2", "labels": ["Person"]}, headers=h)
    assert (await client.get("/v1/nodes/c1/neighbours", headers=h)).json()["items"] == []
    await client.post("/v1/relationships", headers=h, json={
        "start_id": "c2", "end_id": "c1", "type": "OWNS"})
    hood = (await client.get("/v1/nodes/c1/neighbours", headers=h)).json()
    assert [i["node"]["id"] for i in hood["items"]] == ["c2"]


async def test_read_after_write_under_concurrency(client, alice):
    h = alice.headers
    await client.put("/v1/nodes/hot", json={"id": "hot", "labels": ["Device"]}, headers=h)

    async def writer(i: int) -> None:
        for step in range(4):
            value = i * 10 + step
            r = await client.patch("/v1/nodes/hot", json={"props": {f"k{i}_id": f"v{value}"}},
                                   headers=h)
            assert r.status_code == 200
            seen = (await client.get("/v1/nodes/hot", headers=h)).json()["props"]
            assert seen[f"k{i}_id"] == f"v{value}"

    async def reader() -> None:
        for _ in range(10):
            assert (await client.get("/v1/nodes/hot", headers=h)).status_code == 200

    await asyncio.gather(*(writer(i) for i in range(4)), reader(), reader())


async def test_context_state_cache_is_never_stale(client, alice, fake):
    h = alice.headers
    for value in ("a", "b", "c"):
        await client.post("/context/update", headers=h, json={
            "user_id": alice.person_id, "dimensions": [{"name": "k", "value": value}]})
        q = await client.post("/context/query", json={"user_id": alice.person_id}, headers=h)
        assert q.json()["state"]["dimensions"] == [{"name": "k", "value": value}]


async def test_every_key_has_a_ttl(client, alice, fake):
    h = alice.headers
    await client.put("/v1/nodes/t1", json={"id": "t1", "labels": ["Device"]}, headers=h)
    await client.get("/v1/nodes/t1", headers=h)
    await client.post("/context/update", json={"user_id": alice.person_id}, headers=h)
    await client.post("/context/query", json={"user_id": alice.person_id}, headers=h)
    r = redis_sync.Redis.from_url(graph_servers.redis().url)
    keys = list(r.scan_iter(count=1000))
    assert keys
    prefixes = {k.decode().split(":")[0] + ":" + k.decode().split(":")[1] for k in keys}
    assert {"graph:hot", "context:cache"} <= prefixes
    assert all(r.ttl(k) > 0 for k in keys), [k for k in keys if r.ttl(k) <= 0]
