"""Every context-graph route of contract.md, with its legacy shape."""

from __future__ import annotations

import asyncio


async def update(client, caller, **body):
    body.setdefault("user_id", caller.person_id)
    return await client.post("/context/update", json=body, headers=caller.headers)


async def test_update_merges_dimensions_by_name_and_refreshes_updated_at(client, alice, fake):
    r1 = await update(client, alice, dimensions=[{"name": "mood", "value": "calm"},
                                                  {"name": "place", "value": "home"}],
                      preferences={"theme": "dark"})
    assert r1.status_code == 200, r1.text
    first = r1.json()["state"]
    assert first["user_id"] == alice.person_id and first["updated_at"]
    await asyncio.sleep(0.01)
    r2 = await update(client, alice, dimensions=[{"name": "mood", "value": "busy"}],
                      preferences={"volume": 3})
    state = r2.json()["state"]
    assert {d["name"]: d["value"] for d in state["dimensions"]} == {"mood": "busy",
                                                                    "place": "home"}
    assert state["preferences"] == {"theme": "dark", "volume": 3}
    assert state["updated_at"] > first["updated_at"]
    q = await client.post("/context/query", json={"user_id": alice.person_id},
                          headers=alice.headers)
    assert q.status_code == 200 and q.json() == {"state": state}


async def test_dimension_values_live_in_storage_not_in_the_graph(client, alice, fake):
    await update(client, alice, dimensions=[{"name": "note", "value": "buy milk at 5"}])
    assert fake.values("context-graph.state")[alice.person_id]["dimensions"][0]["value"] \
        == "buy milk at 5"
    node = (await client.get(f"/v1/nodes/{alice.person_id}", headers=alice.headers)).json()
    assert node["labels"] == ["Person"]
    assert node["props"]["storage_id"] == f"kv:context-graph.state/{alice.person_id}"
    assert "buy milk at 5" not in str(node)


async def test_update_with_session_links_the_session(client, alice, fake):
    r = await update(client, alice, session_id="sess-1", dimensions=[])
    assert r.status_code == 200
    view = await client.get(f"/v1/persons/{alice.person_id}/sessions", headers=alice.headers)
    assert [n["id"] for n in view.json()["items"]] == ["sess-1"]


async def test_concurrent_updates_all_land(client, alice, fake):
    results = await asyncio.gather(*(update(client, alice, dimensions=[
        {"name": f"d{i}", "value": i}]) for i in range(6)))
    assert all(r.status_code == 200 for r in results), [r.text for r in results]
    q = await client.post("/context/query", json={"user_id": alice.person_id},
                          headers=alice.headers)
    assert sorted(d["name"] for d in q.json()["state"]["dimensions"]) == [
        f"d{i}" for i in range(6)]


async def test_query_unknown_is_404(client, alice):
    r = await client.post("/context/query", json={"user_id": alice.person_id},
                          headers=alice.headers)
    assert r.status_code == 404
    assert "detail" in r.json()


async def test_identity_rule_and_auth(client, alice, make_caller):
    other = make_caller(household_id=alice.household_id)
    r = await client.post("/context/update", json={"user_id": other.person_id},
                          headers=alice.headers)
    assert r.status_code == 403
    assert (await client.post("/context/query", json={"user_id": "x"})).status_code == 401


async def test_trace_replay_and_search(client, alice, fake):
    trace = [
        {"event": "card.shown", "metadata": {"tags": ["news"], "transcript": "hello there"},
         "timestamp": "2026-01-01T10:00:00Z"},
        {"event": "card.tapped", "metadata": {"tags": ["news", "sport"]},
         "timestamp": "2026-01-02T10:00:00Z"},
        {"event": "voice", "metadata": {"tags": ["music"]},
         "timestamp": "2026-01-03T10:00:00Z"},
    ]
    r = await client.post("/traces/replay", json={"user_id": alice.person_id, "trace": trace},
                          headers=alice.headers)
    assert r.status_code == 200, r.text
    assert r.json()["state"]["user_id"] == alice.person_id
    # Replaying the same trace again is idempotent.
    await client.post("/traces/replay", json={"user_id": alice.person_id, "trace": trace},
                      headers=alice.headers)

    async def search(**body):
        resp = await client.post("/traces/search", json={"user_id": alice.person_id, **body},
                                 headers=alice.headers)
        assert resp.status_code == 200, resp.text
        return resp.json()["traces"]

    everything = await search()
    assert [t["event"] for t in everything] == ["voice", "card.tapped", "card.shown"]
    assert everything[2]["metadata"]["transcript"] == "hello there"
    assert [t["event"] for t in await search(tags=["news"])] == ["card.tapped", "card.shown"]
    assert [t["event"] for t in await search(tags=["sport", "music"])] == ["voice",
                                                                           "card.tapped"]
    assert [t["event"] for t in await search(since="2026-01-02T00:00:00Z")] == [
        "voice", "card.tapped"]
    assert len(await search(limit=1)) == 1
    # The graph holds references only: the transcript is in storage.
    hood = await client.get(f"/v1/nodes/{alice.person_id}/neighbours",
                            params={"types": "HAS_RESOURCE"}, headers=alice.headers)
    items = hood.json()["items"]
    assert len(items) == 3
    assert all(i["node"]["props"]["storage_id"].startswith("kv:context-graph.traces/")
               for i in items)
    assert "hello there" not in hood.text


async def test_telemetry_actuation(client, alice, fake):
    body = {"action_id": "act-1", "person_id": alice.person_id, "correlation_id": "c-1",
            "intent": "lights.on", "target": "lamp", "risk_level": "low",
            "actuation_status": "done", "extra": {"why": "it was dark in here"}}
    r = await client.post("/telemetry/actuation", json=body, headers=alice.headers)
    assert r.status_code == 200 and r.json() == {"ok": True}
    assert fake.values("context-graph.actuation")["act-1"]["extra"]["why"] == \
        "it was dark in here"
    node = await client.get("/v1/nodes/actuation:act-1", headers=alice.headers)
    assert node.json()["props"]["type"] == "actuation"


async def test_capabilities_both_shapes(client, alice, fake):
    params = {"person_id": alice.person_id}
    r = await client.get("/capabilities", params=params, headers=alice.headers)
    assert r.json() == {"manifest": {"modalities": {"displays": []}}}
    manifest = {"modalities": {"displays": [{"id": "tv", "width": 1920}]}}
    r = await client.post("/capabilities", params=params, json=manifest, headers=alice.headers)
    assert r.status_code == 200 and r.json()["ok"] is True
    tools = {"capabilities": [{"name": "weather", "description": "Weather lookup",
                               "parameters": {}, "source": "mcp", "mcp_server": "wx"}]}
    r = await client.post("/capabilities", params=params, json=tools, headers=alice.headers)
    assert r.status_code == 200
    got = (await client.get("/capabilities", params=params, headers=alice.headers)).json()
    assert got["manifest"] == manifest
    assert got["capabilities"][0]["name"] == "weather"
    # Without person_id the token's person is meant.
    assert (await client.get("/capabilities", headers=alice.headers)).json() == got


async def test_graph_nodes_and_relations(client, alice):
    h = alice.headers
    r = await client.post("/graph/nodes", json={"id": "dev-1", "labels": ["Device"],
                                                "props": {"type": "phone"}}, headers=h)
    assert r.json() == {"ok": True}
    await client.post("/graph/nodes", json={"id": "per-1", "labels": ["Person"]}, headers=h)
    r = await client.post("/graph/relations", json={"start_id": "per-1", "end_id": "dev-1",
                                                    "type": "OWNS", "props": {}}, headers=h)
    assert r.json() == {"ok": True}
    node = (await client.get("/v1/nodes/dev-1", headers=h)).json()
    assert node["degree"] == 1 and node["props"] == {"type": "phone"}


async def test_graph_legacy_refusals(client, alice):
    h = alice.headers
    r = await client.post("/graph/nodes", json={"id": "x", "labels": ["Person) DETACH DELETE"]},
                          headers=h)
    assert r.status_code == 422
    assert r.json()["ok"] is False and "label" in r.json()["detail"]
    r = await client.post("/graph/relations", json={"start_id": "a", "end_id": "b",
                                                    "type": "LIKES"}, headers=h)
    assert r.status_code == 422 and "LIKES" in r.json()["detail"]
    r = await client.post("/graph/nodes", json={"id": "y", "labels": ["Person"],
                                                "props": {"email": "a@b.example"}}, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "props.email"
    r = await client.post("/graph/relations", json={"start_id": "nope", "end_id": "nope2",
                                                    "type": "OWNS"}, headers=h)
    assert r.status_code == 404 and r.json()["ok"] is False


async def test_update_refuses_a_session_id_that_is_another_kind_of_node(client, alice, fake):
    h = alice.headers
    await client.put("/v1/nodes/dev-s", json={"id": "dev-s", "labels": ["Device"]}, headers=h)
    r = await update(client, alice, session_id="dev-s")
    assert r.status_code == 409
    node = (await client.get("/v1/nodes/dev-s", headers=h)).json()
    assert node["labels"] == ["Device"] and node["degree"] == 0


async def test_a_person_id_that_is_another_kind_of_node_is_409(client, alice, fake):
    h = alice.headers
    await client.put(f"/v1/nodes/{alice.person_id}", headers=h,
                     json={"id": alice.person_id, "labels": ["Device"]})
    r = await client.post("/traces/replay", headers=h, json={
        "user_id": alice.person_id, "trace": [{"event": "e"}]})
    assert r.status_code == 409
    r = await client.post("/telemetry/actuation", headers=h, json={
        "action_id": "a-409", "person_id": alice.person_id})
    assert r.status_code == 409
    r = await client.post("/capabilities", headers=h, json={"modalities": {}})
    assert r.status_code == 409
    node = (await client.get(f"/v1/nodes/{alice.person_id}", headers=h)).json()
    assert node["labels"] == ["Device"] and node["degree"] == 0
