async def test_health_shape(client):
    r = await client.get("/health")
    assert r.json() == {"status": "ok", "service": "unison-intent-graph"}


async def test_intent_lifecycle_smoke(client, alice):
    r = await client.post("/v1/intents", json={"type": "music.play",
                                               "person_id": alice.person_id},
                          headers=alice.headers)
    assert r.status_code == 201, r.text
    iid = r.json()["id"]
    r = await client.post(f"/v1/intents/{iid}/transitions",
                          json={"state": "routed", "handler_id": "agent-1"},
                          headers=alice.headers)
    assert r.status_code == 200, r.text
    assert r.json()["handlers"] == [{"id": "agent-1", "labels": ["Agent"]}]
    r = await client.get("/v1/routing/candidates", params={"intent_type": "music.play"},
                         headers=alice.headers)
    assert r.status_code == 200, r.text
    assert r.json()["candidates"][0]["id"] == "agent-1"


async def test_readyz_has_the_legacy_status(client):
    r = await client.get("/readyz")
    assert r.status_code == 200
    assert r.json()["status"] == "ok" and r.json()["service"] == "unison-intent-graph"
