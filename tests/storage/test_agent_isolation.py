"""Isolation of agent-runtime records: a person of the same household and a person of
another household, holding every id of Alice's records, find nothing on any path (404,
or an empty list), change nothing, and Alice's records are intact afterwards."""

from __future__ import annotations

import base64

from .agent_helpers import new_thread

T = "/v1/threads"


async def _alices_records(client, alice):
    tid = (await new_thread(client, alice))["id"]
    h = alice.headers
    msg = (await client.post(f"{T}/{tid}/messages", json={"role": "user", "content": "m"},
                             headers=h)).json()
    await client.put(f"{T}/{tid}/state", json={"data": {"secret": 1}}, headers=h)
    art = (await client.post(f"{T}/{tid}/artifacts", json={
        "name": "a", "type": "f", "content_b64": base64.b64encode(b"abc").decode()},
                             headers=h)).json()
    metric = (await client.post("/v1/metrics", json={
        "entity_type": "agent", "entity_name": "iso", "metric_name": "m", "value": 1,
        "thread_id": tid}, headers=h)).json()
    await client.put("/v1/cache/iso", json={"value": 1}, headers=h)
    return tid, msg["id"], art["id"], metric["id"]


async def _intruder_finds_nothing(client, who, tid, aid):
    h = who.headers
    not_found = [
        client.get(f"{T}/{tid}", headers=h),
        client.patch(f"{T}/{tid}", json={"status": "ended"}, headers=h),
        client.delete(f"{T}/{tid}", headers=h),
        client.get(f"{T}/{tid}/messages", headers=h),
        client.post(f"{T}/{tid}/messages", json={"role": "user", "content": "x"}, headers=h),
        client.delete(f"{T}/{tid}/messages", headers=h),
        client.get(f"{T}/{tid}/state", headers=h),
        client.put(f"{T}/{tid}/state", json={"data": {}}, headers=h),
        client.get(f"{T}/{tid}/state/versions", headers=h),
        client.get(f"{T}/{tid}/state/versions/1", headers=h),
        client.post(f"{T}/{tid}/state/restore", json={"version": 1}, headers=h),
        client.delete(f"{T}/{tid}/state", headers=h),
        client.get(f"{T}/{tid}/artifacts", headers=h),
        client.post(f"{T}/{tid}/artifacts", json={"name": "a", "type": "f"}, headers=h),
        client.get(f"{T}/{tid}/artifacts/{aid}", headers=h),
        client.get(f"{T}/{tid}/artifacts/{aid}/content", headers=h),
        client.delete(f"{T}/{tid}/artifacts/{aid}", headers=h),
        client.get("/v1/cache/iso", headers=h),
        client.delete("/v1/cache/iso", headers=h),
        client.get(f"/storage/sessions/{tid}", headers=h),
        client.put(f"/storage/sessions/{tid}", json={"status": "ended"}, headers=h),
        client.delete(f"/storage/sessions/{tid}", headers=h),
        client.post("/storage/history", json={"session_id": tid, "role": "user",
                                              "content": "x"}, headers=h),
        client.delete("/storage/history", params={"session_id": tid}, headers=h),
        client.put(f"/storage/state/{tid}", json={"data": {}}, headers=h),
        client.delete(f"/storage/state/{tid}", headers=h),
        client.post("/storage/artifacts", json={"session_id": tid, "name": "a", "type": "f",
                                                "path": "p", "size": 1}, headers=h),
        client.get(f"/storage/artifacts/{aid}", headers=h),
        client.delete(f"/storage/artifacts/{aid}", headers=h),
        client.get("/storage/cache/iso", headers=h),
        client.delete("/storage/cache/iso", headers=h),
    ]
    for call in not_found:
        r = await call
        assert r.status_code == 404, (r.request.method, r.request.url, r.text)
    empty = [
        client.get(T, headers=h),
        client.get("/v1/metrics", params={"entity_name": "iso"}, headers=h),
        client.get("/v1/metrics", params={"thread_id": tid}, headers=h),
    ]
    for call in empty:
        assert (await call).json()["items"] == []
    for path, params in (("/storage/sessions", {}), ("/storage/history", {"session_id": tid}),
                         ("/storage/artifacts", {"session_id": tid}),
                         ("/storage/metrics", {"session_id": tid})):
        r = await client.get(path, params=params, headers=h)
        assert r.status_code == 200 and r.json() == [], path
    state = (await client.get(f"/storage/state/{tid}", headers=h)).json()
    assert state["data"] == {}
    agg = (await client.get("/v1/metrics/aggregate", params={"metric_name": "m"},
                            headers=h)).json()
    assert agg["items"] == []


async def _alice_intact(client, alice, tid, msg_id, aid):
    h = alice.headers
    thread = (await client.get(f"{T}/{tid}", headers=h)).json()
    assert thread["status"] == "active" and thread["message_count"] == 1
    msgs = (await client.get(f"{T}/{tid}/messages", headers=h)).json()["items"]
    assert [m["id"] for m in msgs] == [msg_id]
    assert (await client.get(f"{T}/{tid}/state", headers=h)).json()["data"] == {"secret": 1}
    content = await client.get(f"{T}/{tid}/artifacts/{aid}/content", headers=h)
    assert content.content == b"abc"
    assert (await client.get("/v1/cache/iso", headers=h)).json()["value"] == 1


async def test_same_household_other_person(client, alice, make_caller):
    dave = make_caller(household_id=alice.household_id)
    tid, msg_id, aid, _ = await _alices_records(client, alice)
    await _intruder_finds_nothing(client, dave, tid, aid)
    await _alice_intact(client, alice, tid, msg_id, aid)


async def test_other_household(client, alice, bob):
    tid, msg_id, aid, _ = await _alices_records(client, alice)
    await _intruder_finds_nothing(client, bob, tid, aid)
    await _alice_intact(client, alice, tid, msg_id, aid)


async def test_same_content_of_two_persons_is_stored_twice(client, alice, make_caller,
                                                          storage_app):
    """Content-addressed objects are per person: a household member storing the same
    bytes neither shares nor learns about Alice's object."""
    from .agent_helpers import count_rows

    dave = make_caller(household_id=alice.household_id)
    big = "q" * 70_000
    for who in (alice, dave):
        tid = (await new_thread(client, who))["id"]
        r = await client.post(f"{T}/{tid}/messages", json={"role": "user", "content": big},
                              headers=who.headers)
        assert r.status_code == 201
    assert await count_rows(storage_app.state.database, alice.household_id, "objects") == 2
