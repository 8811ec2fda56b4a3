async def test_health_and_ready(client):
    assert (await client.get("/healthz")).json() == {"status": "ok",
                                                     "service": "unison-context-graph"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["graph"] == "ok"


async def test_context_update_and_query(client, alice, fake):
    body = {"user_id": alice.person_id, "dimensions": [{"name": "mood", "value": "calm"}]}
    r = await client.post("/context/update", json=body, headers=alice.headers)
    assert r.status_code == 200, r.text
    q = await client.post("/context/query", json={"user_id": alice.person_id},
                          headers=alice.headers)
    assert q.status_code == 200, q.text
    assert q.json()["state"]["dimensions"] == [{"name": "mood", "value": "calm"}]
