"""IntentInstance lifecycle, handlers, lineage and produced resources."""

from __future__ import annotations

import asyncio

import pytest


async def create(client, caller, **body):
    r = await client.post("/v1/intents", json=body, headers=caller.headers)
    assert r.status_code == 201, r.text
    return r.json()


async def move(client, caller, intent_id, state, **extra):
    return await client.post(f"/v1/intents/{intent_id}/transitions",
                             json={"state": state, **extra}, headers=caller.headers)


async def test_create_links_person_device_policy(client, alice):
    intent = await create(client, alice, id="i-1", type="lights.on", person_id=alice.person_id,
                          device_id="dev-1", policy_group_id="pg-1", confidence=0.8)
    assert intent["state"] == "created" and intent["type"] == "lights.on"
    assert intent["person_id"] == alice.person_id
    assert intent["props"] == {"confidence": 0.8}
    hood = await client.get("/v1/nodes/i-1/neighbours", headers=alice.headers)
    assert sorted((i["node"]["id"], i["node"]["labels"][0]) for i in hood.json()["items"]) == \
        sorted([("dev-1", "Device"), ("pg-1", "PolicyGroup"), (alice.person_id, "Person")])
    again = await create(client, alice, id="i-1", type="lights.on")
    assert again["created_at"] == intent["created_at"] and again["state"] == "created"


async def test_lifecycle_and_illegal_moves(client, alice):
    iid = (await create(client, alice, type="music.play"))["id"]
    r = await move(client, alice, iid, "routed")
    assert r.status_code == 422 and r.json()["field"] == "handler_id"
    r = await move(client, alice, iid, "completed")
    assert r.status_code == 409
    assert r.json()["state"] == "created" and "completed" in r.json()["detail"]
    r = await move(client, alice, iid, "routed", handler_id="skill-1", handler_label="Skill")
    assert r.json()["state"] == "routed"
    assert r.json()["handlers"] == [{"id": "skill-1", "labels": ["Skill"]}]
    assert (await move(client, alice, iid, "running")).json()["state"] == "running"
    assert (await move(client, alice, iid, "completed")).json()["state"] == "completed"
    r = await move(client, alice, iid, "running")
    assert r.status_code == 409 and r.json()["allowed"] == []
    assert (await move(client, alice, "nope", "running")).status_code == 404


@pytest.mark.parametrize("end", ["failed", "cancelled"])
async def test_other_endings(client, alice, end):
    iid = (await create(client, alice, type="x.y"))["id"]
    assert (await move(client, alice, iid, end)).json()["state"] == end
    assert (await move(client, alice, iid, "routed", handler_id="a")).status_code == 409


async def test_racing_transitions_apply_once(client, alice):
    iid = (await create(client, alice, type="race.me"))["id"]
    await move(client, alice, iid, "routed", handler_id="agent-r")
    results = await asyncio.gather(*(move(client, alice, iid, "running") for _ in range(6)))
    assert sorted(r.status_code for r in results) == [200] + [409] * 5


async def test_lineage_up_and_down(client, alice):
    root = await create(client, alice, id="root", type="plan.trip")
    await create(client, alice, id="child", type="book.flight", parent_id="root")
    await create(client, alice, id="grandchild", type="pay.card", parent_id="child")
    await create(client, alice, id="sibling", type="book.hotel", parent_id="root")
    r = await client.get("/v1/intents/child/lineage", headers=alice.headers)
    body = r.json()
    assert [(a["node"]["id"], a["distance"]) for a in body["ancestors"]] == [("root", 1)]
    assert [(d["node"]["id"], d["distance"]) for d in body["descendants"]] == [
        ("grandchild", 1)]
    down = (await client.get("/v1/intents/root/lineage",
                             params={"direction": "down", "depth": 2},
                             headers=alice.headers)).json()
    assert [(d["node"]["id"], d["distance"]) for d in down["descendants"]] == [
        ("child", 1), ("sibling", 1), ("grandchild", 2)]
    assert down["ancestors"] == []
    one = (await client.get("/v1/intents/root/lineage", params={"depth": 1},
                            headers=alice.headers)).json()
    assert len(one["descendants"]) == 2
    r = await client.get("/v1/intents/root/lineage", params={"depth": 12},
                         headers=alice.headers)
    assert r.status_code == 422 and "max_depth" in r.json()["detail"]
    r = await client.post("/v1/intents", json={"type": "x", "parent_id": "ghost"},
                          headers=alice.headers)
    assert r.status_code == 404
    assert root["id"] == "root"


async def test_produced_resources(client, alice):
    iid = (await create(client, alice, type="doc.write"))["id"]
    r = await client.post(f"/v1/intents/{iid}/produced",
                          json={"resource_id": "res-1", "storage_id": "kv:docs/res-1"},
                          headers=alice.headers)
    assert r.status_code == 200, r.text
    res = (await client.get("/v1/nodes/res-1", headers=alice.headers)).json()
    assert res["labels"] == ["Resource"] and res["props"]["storage_id"] == "kv:docs/res-1"
    r = await client.post(f"/v1/intents/{iid}/produced",
                          json={"resource_id": "res-2", "storage_id": "my note about it"},
                          headers=alice.headers)
    assert r.status_code == 422


async def test_intent_type_must_not_be_content(client, alice):
    r = await client.post("/v1/intents", json={"type": "call mum at +44 20 7946 0958"},
                          headers=alice.headers)
    assert r.status_code == 422 and r.json()["field"] == "props.type"


async def test_agents_that_handled_a_persons_intents(client, alice):
    for agent in ("agent-a", "agent-b"):
        iid = (await create(client, alice, type="t.x", person_id=alice.person_id))["id"]
        await move(client, alice, iid, "routed", handler_id=agent)
    r = await client.get(f"/v1/persons/{alice.person_id}/agents", headers=alice.headers)
    assert [n["id"] for n in r.json()["items"]] == ["agent-a", "agent-b"]


async def test_tenancy(client, make_caller):
    a, b = make_caller(), make_caller()
    iid = (await create(client, a, id="shared-id", type="t.a"))["id"]
    assert (await client.get(f"/v1/intents/{iid}", headers=b.headers)).status_code == 404
    r = await move(client, b, iid, "cancelled")
    assert r.status_code == 404
    assert (await client.get(f"/v1/intents/{iid}", headers=a.headers)).json()["state"] == \
        "created"
    r = await client.post("/v1/intents", json={"type": "t.b", "parent_id": iid},
                          headers=b.headers)
    assert r.status_code == 404
    mine = await create(client, b, id="shared-id", type="t.b")
    assert mine["type"] == "t.b"
    assert (await client.get(f"/v1/intents/{iid}", headers=a.headers)).json()["type"] == "t.a"


async def test_ids_taken_by_other_labels_are_409(client, alice):
    h = alice.headers
    await client.put("/v1/nodes/dev-x", json={"id": "dev-x", "labels": ["Device"]}, headers=h)
    r = await client.post("/v1/intents", json={"id": "dev-x", "type": "a.b"}, headers=h)
    assert r.status_code == 409
    await client.put("/v1/nodes/agent-x", json={"id": "agent-x", "labels": ["Agent"]},
                     headers=h)
    r = await client.post("/v1/intents", json={"type": "a.b", "device_id": "agent-x"},
                          headers=h)
    assert r.status_code == 409
    iid = (await create(client, alice, type="a.b"))["id"]
    r = await move(client, alice, iid, "routed", handler_id="dev-x")
    assert r.status_code == 409 and r.json()["field"] == "handler_id"
    assert (await client.get(f"/v1/intents/{iid}", headers=h)).json()["state"] == "created"
    node = (await client.get("/v1/nodes/dev-x", headers=h)).json()
    assert node["labels"] == ["Device"] and node["degree"] == 0
    r = await client.post("/graph/intent", headers=h, json={
        "person_id": alice.person_id, "agent_id": "dev-x", "name": "a.b"})
    assert r.status_code == 409 and r.json()["ok"] is False
