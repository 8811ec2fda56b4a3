"""Every intent-graph route of contract.md, with its legacy shape."""

from __future__ import annotations


async def test_caps_report_and_latest_per_person(client, alice, make_caller, fake):
    bob = make_caller(household_id=alice.household_id)
    empty = await client.get("/caps/latest", headers=alice.headers)
    assert empty.json() == {"ok": True, "caps": {}, "updated_at": None}
    caps = {"displays": [{"id": "tv"}], "audio": True, "note": "living room tv"}
    r = await client.post("/caps/report", json=caps, headers=alice.headers)
    body = r.json()
    assert body["ok"] is True and body["stored"] is True and body["updated_at"]
    latest = (await client.get("/caps/latest", headers=alice.headers)).json()
    assert latest == {"ok": True, "caps": caps, "updated_at": body["updated_at"]}
    assert (await client.get("/caps/latest", headers=bob.headers)).json()["caps"] == {}
    assert "living room tv" not in str(
        (await client.get(f"/v1/persons/{alice.person_id}/devices",
                          headers=alice.headers)).json())


async def test_gesture_select_and_latest(client, alice, fake):
    assert (await client.get("/gesture/latest", headers=alice.headers)).json() == {
        "ok": True, "gesture": None}
    body = {"person_id": alice.person_id, "card_id": "card-7", "card_title": "Dinner ideas"}
    r = await client.post("/gesture/select", json=body, headers=alice.headers)
    assert r.json()["ok"] is True and r.json()["stored"] is True and r.json()["ts"]
    got = (await client.get("/gesture/latest", headers=alice.headers)).json()
    assert got["ok"] is True and got["gesture"]["card_title"] == "Dinner ideas"
    assert got["gesture"]["card_id"] == "card-7"
    node = (await client.get(f"/v1/nodes/gesture:{alice.person_id}",
                             headers=alice.headers)).json()
    assert node["props"]["card_id"] == "card-7" and "Dinner" not in str(node)
    other = {"person_id": "someone-else", "card_id": "c", "card_title": "x"}
    assert (await client.post("/gesture/select", json=other,
                              headers=alice.headers)).status_code == 403


async def test_graph_intent(client, alice):
    body = {"person_id": alice.person_id, "agent_id": "agent-7", "name": "weather.lookup",
            "rel_type": "HANDLES"}
    r = await client.post("/graph/intent", json=body, headers=alice.headers)
    assert r.status_code == 200 and r.json()["ok"] is True
    iid = r.json()["intent_id"]
    intent = (await client.get(f"/v1/intents/{iid}", headers=alice.headers)).json()
    assert intent["state"] == "routed" and intent["person_id"] == alice.person_id
    assert intent["handlers"] == [{"id": "agent-7", "labels": ["Agent"]}]
    again = await client.post("/graph/intent", json={**body, "intent_id": iid},
                              headers=alice.headers)
    assert again.json() == {"ok": True, "intent_id": iid}
    bad = await client.post("/graph/intent", json={**body, "rel_type": "OWNS"},
                            headers=alice.headers)
    assert bad.status_code == 422 and bad.json()["ok"] is False
    free_text = await client.post("/graph/intent", json={**body, "name": "tell me a joke"},
                                  headers=alice.headers)
    assert free_text.status_code == 422 and free_text.json()["field"] == "props.type"


async def test_storage_down_leaves_no_report(client, alice, fake):
    fake.fail = True
    r = await client.post("/caps/report", json={"a": 1}, headers=alice.headers)
    assert r.status_code == 503 and "retry-after" in r.headers
    fake.fail = False
    assert (await client.get(f"/v1/nodes/caps:{alice.person_id}",
                             headers=alice.headers)).status_code == 404


async def test_auth(client):
    assert (await client.get("/caps/latest")).status_code == 401
    assert (await client.get("/caps/latest",
                             headers={"Authorization": "Bearer nope"})).status_code == 403


async def test_reports_refuse_a_person_id_that_is_another_kind_of_node(client, alice, fake):
    h = alice.headers
    await client.put(f"/v1/nodes/{alice.person_id}", headers=h,
                     json={"id": alice.person_id, "labels": ["Agent"]})
    assert (await client.post("/caps/report", json={"a": 1}, headers=h)).status_code == 409
    r = await client.post("/gesture/select", headers=h, json={
        "person_id": alice.person_id, "card_id": "c1"})
    assert r.status_code == 409
