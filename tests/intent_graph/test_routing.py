"""Routing candidates: ranked by outcomes and recency, per tenant, never stale."""

from __future__ import annotations

import redis as redis_sync

from .. import graph_servers
from .test_intents import create, move


async def handled(client, caller, agent, outcome, intent_type="media.play", **extra):
    iid = (await create(client, caller, type=intent_type, **extra))["id"]
    await move(client, caller, iid, "routed", handler_id=agent)
    if outcome in ("completed", "failed"):
        await move(client, caller, iid, "running")
        await move(client, caller, iid, outcome)


async def ranking(client, caller, **params):
    r = await client.get("/v1/routing/candidates", params={"intent_type": "media.play",
                                                           **params},
                         headers=caller.headers)
    assert r.status_code == 200, r.text
    return r.json()["candidates"]


async def test_ranked_by_success_and_updated_after_writes(client, alice):
    for _ in range(3):
        await handled(client, alice, "good-agent", "completed")
    for _ in range(2):
        await handled(client, alice, "bad-agent", "failed")
    await handled(client, alice, "other-type", "completed", intent_type="other.type")
    first = await ranking(client, alice)
    assert [c["id"] for c in first] == ["good-agent", "bad-agent"]
    assert first[0]["completed"] == 3 and first[0]["success_rate"] == 1.0
    assert first[1]["failed"] == 2 and first[1]["success_rate"] == 0.0
    # Served from the cache now; a write must drop it at once.
    assert await ranking(client, alice) == first
    await handled(client, alice, "bad-agent", "completed")
    after = {c["id"]: c for c in await ranking(client, alice)}
    assert after["bad-agent"]["completed"] == 1 and after["bad-agent"]["handled"] == 3
    assert after["bad-agent"]["score"] > first[1]["score"]


async def test_person_and_device_context(client, alice):
    await handled(client, alice, "family-agent", "completed")
    await handled(client, alice, "alice-agent", "completed", person_id=alice.person_id,
                  device_id="tv-1")
    ranked = await ranking(client, alice, person_id=alice.person_id, device_id="tv-1")
    assert ranked[0]["id"] == "alice-agent"
    assert ranked[0]["for_person"] == 1 and ranked[0]["on_device"] == 1


async def test_candidates_are_per_tenant(client, make_caller):
    a, b = make_caller(), make_caller()
    await handled(client, a, "a-agent", "completed")
    assert await ranking(client, b) == []


async def test_intent_cache_keys_have_a_ttl(client, alice):
    await handled(client, alice, "ttl-agent", "completed")
    await ranking(client, alice)
    r = redis_sync.Redis.from_url(graph_servers.redis().url)
    keys = [k for k in r.scan_iter(match="intent:cache:*", count=1000)]
    assert keys and all(0 < r.ttl(k) <= 60 for k in keys)
