"""The TTL cache on Redis: tenant-prefixed keys, a TTL on every key (capped), a value
size limit, expiry, cleanup's count, and Redis killed mid-test (reads miss, writes 503
with Retry-After, nothing else in storage fails)."""

from __future__ import annotations

import asyncio
import time

import orjson
import redis.asyncio as aioredis

from unison_shared.testing import app_client, running_app

from .conftest import storage_settings

C = "/v1/cache"


async def test_put_get_delete_and_ttl(client, alice, bob, redis_server):
    r = await client.put(f"{C}/greeting", json={"value": ["hi", 1], "ttl": 30},
                         headers=alice.headers)
    assert r.status_code == 200, r.text
    assert r.json()["ttl"] == 30 and r.json()["value"] == ["hi", 1]
    redis = aioredis.Redis.from_url(redis_server.url)
    try:
        keys = [k.decode() async for k in redis.scan_iter(
            match=f"storage:cache:{alice.household_id}:*")]
        assert keys == [f"storage:cache:{alice.household_id}:{alice.person_id}:greeting"]
        assert 0 < await redis.ttl(keys[0]) <= 30
        capped = await client.put(f"{C}/long", json={"value": 1, "ttl": 10**9},
                                  headers=alice.headers)
        assert capped.json()["ttl"] == 24 * 3600
        assert 0 < await redis.ttl(keys[0].replace("greeting", "long")) <= 24 * 3600
    finally:
        await redis.aclose()
    first = (await client.get(f"{C}/greeting", headers=alice.headers)).json()
    await asyncio.sleep(0.01)
    second = (await client.get(f"{C}/greeting", headers=alice.headers)).json()
    assert second["accessed_at"] > first["accessed_at"]  # a read refreshes accessed_at
    assert second["created_at"] == first["created_at"]
    assert (await client.get(f"{C}/greeting", headers=bob.headers)).status_code == 404
    assert (await client.delete(f"{C}/greeting", headers=bob.headers)).status_code == 404
    assert (await client.delete(f"{C}/greeting", headers=alice.headers)).json() == {
        "key": "greeting", "deleted": True}
    assert (await client.get(f"{C}/greeting", headers=alice.headers)).status_code == 404
    for body in ({"value": 1, "ttl": 0}, {"value": 1, "ttl": -5}, {"ttl": 5}):
        assert (await client.put(f"{C}/k", json=body, headers=alice.headers)
                ).status_code == 422
    too_big = await client.put(f"{C}/big", json={"value": "x" * (1024 * 1024 + 1)},
                               headers=alice.headers)
    assert too_big.status_code == 413
    assert (await client.get(f"{C}/bad%01key", headers=alice.headers)).status_code == 422


async def test_expiry_and_cleanup_count(client, make_caller, redis_server):
    carol = make_caller()
    await client.put(f"{C}/brief", json={"value": 1, "ttl": 1}, headers=carol.headers)
    await asyncio.sleep(1.2)
    assert (await client.get(f"{C}/brief", headers=carol.headers)).status_code == 404
    # Entries Redis has not expired yet (here: planted without a TTL, expiry passed).
    redis = aioredis.Redis.from_url(redis_server.url)
    prefix = f"storage:cache:{carol.household_id}:{carol.person_id}:"
    try:
        for name in ("stale1", "stale2"):
            await redis.set(prefix + name, orjson.dumps({
                "value": 0, "ttl": 1, "created_at": "2020-01-01T00:00:00+00:00",
                "accessed_at": "2020-01-01T00:00:00+00:00", "expires_at": time.time() - 5}))
        await client.put(f"{C}/live", json={"value": 2}, headers=carol.headers)
        r = await client.post(f"{C}/cleanup", headers=carol.headers)
        assert r.status_code == 200 and r.json() == {"deleted": 2}
        assert await redis.exists(prefix + "stale1") == 0
        assert await redis.exists(prefix + "live") == 1
    finally:
        await redis.aclose()
    assert (await client.get(f"{C}/live", headers=carol.headers)).json()["value"] == 2


async def test_redis_killed_mid_test(storage_env, alice, state_dir):
    from unison_devstack.procs import free_port
    from unison_devstack.redis import RedisServer
    from unison_storage.main import create_app

    server = RedisServer(state_dir / "cache-redis", free_port())
    server.start()
    try:
        settings = storage_settings({**storage_env, "UNISON_REDIS_URL": server.url})
        async with running_app(create_app, settings) as app, app_client(app) as c:
            h = alice.headers
            assert (await c.put(f"{C}/k", json={"value": 1}, headers=h)).status_code == 200
            assert (await c.put("/storage/cache/k2", json={"value": {"a": 1}}, headers=h)
                    ).status_code == 200
            assert (await c.get(f"{C}/k", headers=h)).json()["value"] == 1
            server.stop()
            miss = await c.get(f"{C}/k", headers=h)
            assert miss.status_code == 404
            assert (await c.get("/storage/cache/k2", headers=h)).status_code == 404
            for r in (await c.put(f"{C}/k", json={"value": 2}, headers=h),
                      await c.put("/storage/cache/k2", json={"value": {}}, headers=h),
                      await c.delete(f"{C}/k", headers=h),
                      await c.post(f"{C}/cleanup", headers=h)):
                assert r.status_code == 503, r.text
                assert r.headers["retry-after"] == "5"
            cortex = await c.put("/storage/cache/k2", json={"value": {}}, headers=h)
            assert set(cortex.json()) == {"detail"}
            # Nothing else fails: threads, messages, state, metrics, readiness.
            t = await c.post("/v1/threads", json={"agent_name": "a"}, headers=h)
            assert t.status_code == 201
            tid = t.json()["id"]
            assert (await c.post(f"/v1/threads/{tid}/messages",
                                 json={"role": "user", "content": "hi"}, headers=h)
                    ).status_code == 201
            assert (await c.put(f"/v1/threads/{tid}/state", json={"data": {"a": 1}},
                                headers=h)).status_code == 200
            assert (await c.post("/v1/metrics", json={
                "entity_type": "a", "entity_name": "b", "metric_name": "c", "value": 1},
                                 headers=h)).status_code == 201
            assert (await c.get("/readyz")).status_code == 200
            server.start()  # back on the same port: writes work again
            for _ in range(50):
                r = await c.put(f"{C}/k", json={"value": 3}, headers=h)
                if r.status_code == 200:
                    break
                await asyncio.sleep(0.1)
            assert r.status_code == 200
            assert (await c.get(f"{C}/k", headers=h)).json()["value"] == 3
    finally:
        server.stop()
