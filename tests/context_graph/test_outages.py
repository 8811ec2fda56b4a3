"""Redis killed mid-test, the graph server killed and restarted, storage down, and a
query past its time budget: what the caller gets, and that the service recovers."""

from __future__ import annotations

import asyncio
import os
import signal

from unison_context_graph.main import create_app
from unison_devstack.procs import free_port

from .. import graph_servers
from ..graph_fixtures import client_for, running
from .test_cache import metric


async def test_redis_killed_mid_test_requests_still_succeed(cg_settings_factory, alice, fake):
    cache = graph_servers.new_redis("redis-killed")
    settings = cg_settings_factory(redis_url=cache.url)
    async with running(create_app(settings)) as app, client_for(app) as client:
        h = alice.headers
        await client.put("/v1/nodes/r1", json={"id": "r1", "labels": ["Device"]}, headers=h)
        assert (await client.get("/v1/nodes/r1", headers=h)).status_code == 200
        cache.stop()
        for _ in range(2):
            assert (await client.get("/v1/nodes/r1", headers=h)).status_code == 200
        r = await client.patch("/v1/nodes/r1", json={"props": {"status": "x"}}, headers=h)
        assert r.status_code == 200
        assert (await client.get("/v1/nodes/r1", headers=h)).json()["props"] == {
            "status": "x"}
        update = await client.post("/context/update", headers=h, json={
            "user_id": alice.person_id, "dimensions": [{"name": "k", "value": 1}]})
        assert update.status_code == 200
        ready = await client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"]["redis"] != "ok"
        metrics = (await client.get("/metrics")).text
        assert metric(metrics, "graph:hot:context", "error") >= 2
        cache.start()  # back on the same port, empty
        await client.patch("/v1/nodes/r1", json={"props": {"status": "y"}}, headers=h)
        assert (await client.get("/v1/nodes/r1", headers=h)).json()["props"] == {
            "status": "y"}
        assert (await client.get("/v1/nodes/r1", headers=h)).json()["props"] == {
            "status": "y"}
        assert metric((await client.get("/metrics")).text, "graph:hot:context", "hit") >= 1


async def test_graph_killed_and_restarted(cg_settings_factory, alice, fake):
    server = graph_servers.new_arcadedb("arcadedb-killed")
    graph = {"uri": server.bolt_url, "password": server.password,
             "query_timeout_seconds": 3.0}
    graph_servers_db = "killed"
    server.ensure_database(graph_servers_db)
    settings = cg_settings_factory(graph=graph, redis_url=None)
    settings.graph.database = graph_servers_db
    async with running(create_app(settings)) as app, client_for(app) as client:
        h = alice.headers
        r = await client.put("/v1/nodes/k1", json={"id": "k1", "labels": ["Device"]},
                             headers=h)
        assert r.status_code == 200, r.text
        assert server.process is not None
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait()
        down = await client.get("/v1/nodes/k1", headers=h)
        assert down.status_code == 503
        assert down.headers["content-type"].startswith("application/problem+json")
        assert int(down.headers["retry-after"]) >= 1
        legacy = await client.post("/context/query", json={"user_id": alice.person_id},
                                   headers=h)
        assert legacy.status_code == 503 and "retry-after" in legacy.headers
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and "graph" in ready.json()["failing"]
        assert ready.json()["status"] == "unavailable"
        server.start()
        for _ in range(60):
            back = await client.get("/v1/nodes/k1", headers=h)
            if back.status_code == 200:
                break
            await asyncio.sleep(0.5)
        assert back.status_code == 200 and back.json()["id"] == "k1"
        assert (await client.get("/readyz")).status_code == 200
    server.stop()


async def test_storage_down_refuses_and_leaves_the_graph_untouched(client, alice, fake):
    h = alice.headers
    fake.fail = True
    fake.calls.clear()
    r = await client.post("/context/update", headers=h, json={
        "user_id": alice.person_id, "dimensions": [{"name": "k", "value": 1}]})
    assert r.status_code == 503 and "retry-after" in r.headers
    # The read before the write was tried three times (idempotent), the write never.
    assert [c["method"] for c in fake.calls] == ["GET", "GET", "GET"]
    r = await client.post("/traces/replay", headers=h, json={
        "user_id": alice.person_id, "trace": [{"event": "e", "metadata": {"tags": ["t"]}}]})
    assert r.status_code == 503
    r = await client.post("/telemetry/actuation", headers=h, json={
        "action_id": "down-1", "person_id": alice.person_id})
    assert r.status_code == 503
    r = await client.post("/capabilities", headers=h, json={"modalities": {}})
    assert r.status_code == 503
    fake.fail = False
    assert (await client.get(f"/v1/nodes/{alice.person_id}", headers=h)).status_code == 404
    assert (await client.get("/v1/nodes/actuation:down-1", headers=h)).status_code == 404


async def test_storage_unreachable_is_503(cg_settings_factory, alice):
    settings = cg_settings_factory(storage_url=f"http://127.0.0.1:{free_port()}")
    async with running(create_app(settings)) as app, client_for(app) as client:
        r = await client.post("/context/update", headers=alice.headers, json={
            "user_id": alice.person_id})
        assert r.status_code == 503 and "storage" in r.json()["detail"]
        assert (await client.get(f"/v1/nodes/{alice.person_id}",
                                 headers=alice.headers)).status_code == 404


async def test_storage_calls_carry_the_request_id_and_the_callers_scope(client, alice, fake):
    fake.calls.clear()
    tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    r = await client.post("/context/update", json={"user_id": alice.person_id},
                          headers={**alice.headers, "X-Request-Id": "rid-graph-1",
                                   "traceparent": tp})
    assert r.status_code == 200
    assert fake.calls and all(c["request_id"] == "rid-graph-1" for c in fake.calls)
    assert all(c["traceparent"] == tp for c in fake.calls)
    assert any(k[0] == alice.household_id and k[1] == alice.person_id
               for k in fake.records)


async def test_workload_token_when_the_callers_is_not_for_storage(cg_settings_factory,
                                                                  make_caller, fake):
    from unison_devstack.tokens import mint_token

    settings = cg_settings_factory(storage_workload_secret=graph_servers.TEST_SECRET)
    caller = make_caller()
    only_graph = mint_token(graph_servers.TEST_SECRET, person_id=caller.person_id,
                            household_id=caller.household_id, audience="context-graph")
    async with running(create_app(settings)) as app, client_for(app) as client:
        r = await client.post("/context/update", json={"user_id": caller.person_id},
                              headers={"Authorization": f"Bearer {only_graph}"})
        assert r.status_code == 200, r.text
    assert any(k[0] == caller.household_id and k[1] == "" for k in fake.records)


async def test_a_query_past_its_budget_is_503_not_a_hung_worker(cg_settings_factory, alice):
    settings = cg_settings_factory(graph={"query_timeout_seconds": 0.05})
    h = alice.headers
    nodes = [{"id": f"c{i}", "labels": ["Device"]} for i in range(16)]
    rels = [{"start_id": f"c{i}", "end_id": f"c{j}", "type": "OWNS"}
            for i in range(16) for j in range(i + 1, 16)]
    async with running(create_app(cg_settings_factory())) as app, client_for(app) as client:
        assert (await client.post("/v1/nodes/batch", json={"nodes": nodes},
                                  headers=h)).status_code == 200
        assert (await client.post("/v1/relationships/batch", json={"relationships": rels},
                                  headers=h)).status_code == 200
    async with running(create_app(settings)) as app, client_for(app) as client:
        loop = asyncio.get_running_loop()
        started = loop.time()
        r = await client.get("/v1/nodes/c0/neighbours", params={"depth": 4}, headers=h)
        assert r.status_code == 503, r.text
        assert r.json()["type"].endswith("graph-query-timeout")
        assert "retry-after" in r.headers
        assert loop.time() - started < 2


async def test_a_write_whose_bump_failed_never_leaves_a_stale_read(cg_settings_factory, alice):
    """Redis up but refusing writes (a read-only replica of a master that is not there):
    the cached value is still readable, the write's generation bump fails. The service
    must not serve the old cached value; once Redis takes writes again, the deferred
    bump lands and the cache is used again."""
    import redis as redis_sync

    cache = graph_servers.new_redis("redis-readonly")
    admin = redis_sync.Redis.from_url(cache.url)
    async with running(create_app(cg_settings_factory(redis_url=cache.url))) as app, \
            client_for(app) as client:
        h = alice.headers
        await client.put("/v1/nodes/ro", json={"id": "ro", "labels": ["Device"]}, headers=h)
        assert (await client.get("/v1/nodes/ro", headers=h)).json()["props"] == {}
        admin.replicaof("127.0.0.1", free_port())  # writes now fail with READONLY
        try:
            r = await client.patch("/v1/nodes/ro", json={"props": {"status": "new"}},
                                   headers=h)
            assert r.status_code == 200
            for _ in range(3):
                got = await client.get("/v1/nodes/ro", headers=h)
                assert got.json()["props"] == {"status": "new"}
        finally:
            admin.replicaof("NO", "ONE")
        assert (await client.get("/v1/nodes/ro", headers=h)).json()["props"] == {
            "status": "new"}
        hits = metric((await client.get("/metrics")).text, "graph:hot:context", "hit")
        assert (await client.get("/v1/nodes/ro", headers=h)).json()["props"] == {
            "status": "new"}
        assert metric((await client.get("/metrics")).text, "graph:hot:context",
                      "hit") == hits + 1
    cache.stop()
