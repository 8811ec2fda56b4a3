"""The graph holds ids, types, timestamps, confidence and storage ids: anything else is
422 naming the property, on /v1 (problem+json) and on the legacy routes."""

from __future__ import annotations

import pytest

from unison_shared.graph_schema import looks_like_content

REFUSED = [
    ({"email": "x"}, "props.email", "not allowed"),
    ({"name": "Alice"}, "props.name", "not allowed"),
    ({"source": "alice@example.com"}, "props.source", "e-mail"),
    ({"device_id": "+1 415 555 0132"}, "props.device_id", "phone"),
    ({"resource_id": "(415) 555-0132"}, "props.resource_id", "phone"),
    ({"storage_id": "4111 1111 1111 1111"}, "props.storage_id", "card"),
    ({"count": 4111111111111111}, "props.count", "card"),
    ({"type": "remind me to buy milk"}, "props.type", "free text"),
    ({"kind": "x" * 201}, "props.kind", "free text"),
    ({"tenant": "other"}, "props.tenant", "set by the platform"),
]


@pytest.mark.parametrize(("props", "field", "reason"), REFUSED)
async def test_v1_refuses_content(client, alice, props, field, reason):
    r = await client.put("/v1/nodes/n1", json={"id": "n1", "labels": ["Device"],
                                               "props": props}, headers=alice.headers)
    assert r.status_code == 422, r.text
    body = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert body["field"] == field and reason in body["detail"]
    assert (await client.get("/v1/nodes/n1", headers=alice.headers)).status_code == 404


async def test_relationship_props_and_batches_are_checked(client, alice):
    h = alice.headers
    await client.post("/v1/nodes/batch", headers=h, json={"nodes": [
        {"id": "a", "labels": ["Person"]}, {"id": "b", "labels": ["Device"]}]})
    r = await client.post("/v1/relationships", headers=h, json={
        "start_id": "a", "end_id": "b", "type": "OWNS", "props": {"note": "hi"}})
    assert r.status_code == 422 and r.json()["field"] == "props.note"
    r = await client.post("/v1/nodes/batch", headers=h, json={"nodes": [
        {"id": "c", "labels": ["Device"]},
        {"id": "d", "labels": ["Device"], "props": {"source": "call +44 20 7946 0958"}}]})
    assert r.status_code == 422 and r.json()["field"] == "nodes[1].props.source"
    assert (await client.get("/v1/nodes/c", headers=h)).status_code == 404  # nothing written


@pytest.mark.parametrize("value", ["dev-123", "2026-12-03T10:00:00+00:00", "kv:ns/key-1",
                                   "weather.lookup", 0.93, 17, True, "a1b2c3d4e5f6",
                                   "1.2.3", "2026-12-03"])
def test_ids_types_and_timestamps_pass(value):
    assert looks_like_content(value) is None


async def test_labels_and_types_come_only_from_the_allow_list(client, alice):
    r = await client.put("/v1/nodes/q", json={"id": "q", "labels": ["Admin"]},
                         headers=alice.headers)
    assert r.status_code == 422 and r.json()["field"] == "labels"
    r = await client.get("/v1/relationships/a/KNOWS`]-()/b", headers=alice.headers)
    assert r.status_code in (404, 422)
    r = await client.put("/v1/nodes/bad%20id", json={"id": "x", "labels": ["Device"]},
                         headers=alice.headers)
    assert r.status_code == 422
