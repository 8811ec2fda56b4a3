"""Person erasure and export on intent-graph: intents (with devices, a policy group, a
handling agent, produced resources and triggered intents) and reports of two persons of
one household and one of another, caches warmed; one erased by an operator; then every
graph property and Redis key and value is scanned for the erased person's id and
markers, shared nodes stay, the others are still served. The scans and token helpers are
the context-graph test's (one graph kit serves both)."""

from __future__ import annotations

from typing import Any

import orjson

from ..context_graph.test_person_erasure import (
    export_lines,
    graph_dump,
    marker,
    ok,
    operator,
    redis_hits,
    service_headers,
)

DATABASE = "intent_test"


async def household(client: Any, who: Any) -> dict[str, str]:
    mark = marker()
    shared = {"agent": f"agent-{mark}", "policy": f"policy-{mark}", "tv": f"tv-{mark}"}
    ok(await client.post("/v1/nodes/batch", headers=who.headers, json={"nodes": [
        {"id": shared["agent"], "labels": ["Agent"]},
        {"id": shared["policy"], "labels": ["PolicyGroup"]},
        {"id": shared["tv"], "labels": ["Device"]}]}))
    return shared


async def populate(client: Any, who: Any, shared: dict[str, str]) -> dict[str, Any]:
    pid, h, mark = who.person_id, who.headers, marker()
    intent = f"int-{mark}"
    ok(await client.post("/v1/intents", headers=h, json={
        "id": intent, "type": "lights.on", "person_id": pid, "device_id": f"dev-{mark}",
        "policy_group_id": shared["policy"], "confidence": 0.9,
        "storage_id": f"kv:intents/{mark}"}), 201)
    for state in ("routed", "running", "completed"):
        ok(await client.post(f"/v1/intents/{intent}/transitions", headers=h, json={
            "state": state, "handler_id": shared["agent"]}))
    ok(await client.post(f"/v1/intents/{intent}/produced", headers=h, json={
        "resource_id": f"out-{mark}", "storage_id": f"obj:{mark}"}))
    ok(await client.post("/v1/intents", headers=h, json={
        "id": f"child-{mark}", "type": "lights.dim", "parent_id": intent}), 201)
    ok(await client.post("/v1/intents", headers=h, json={
        "id": f"tv-{mark}", "type": "tv.on", "person_id": pid,
        "device_id": shared["tv"]}), 201)
    assert ok(await client.post("/graph/intent", headers=h, json={
        "intent_id": f"leg-{mark}", "person_id": pid, "agent_id": shared["agent"],
        "name": "weather"}))["ok"]
    caps = {"speakers": [f"spk-{mark}"]}
    ok(await client.post("/caps/report", headers=h, json=caps))
    ok(await client.post("/gesture/select", headers=h, json={
        "person_id": pid, "card_id": f"card-{mark}", "card_title": f"title {mark}"}))
    # Reads that fill intent:cache, intent:cache:reports and graph:hot:intent.
    assert ok(await client.get("/caps/latest", headers=h))["caps"] == caps
    assert ok(await client.get("/gesture/latest", headers=h))["gesture"]["card_id"] == \
        f"card-{mark}"
    ok(await client.get("/v1/routing/candidates", headers=h, params={
        "intent_type": "lights.on", "person_id": pid}))
    ok(await client.get(f"/v1/intents/{intent}/lineage", headers=h))
    ok(await client.get(f"/v1/persons/{pid}/agents", headers=h))
    ok(await client.get(f"/v1/nodes/{pid}/subgraph", headers=h, params={"depth": 2}))
    return {"mark": mark, "intent": intent, "caps": caps}


async def test_erasure_removes_the_persons_intents_and_reports_only(client, make_caller):
    alice = make_caller()
    sister = make_caller(household_id=alice.household_id)
    other = make_caller()
    shared = await household(client, alice)
    written = {alice.person_id: await populate(client, alice, shared),
               sister.person_id: await populate(client, sister, shared),
               other.person_id: await populate(client, other, await household(client, other))}
    pid, mark = alice.person_id, written[alice.person_id]["mark"]
    before = await graph_dump(DATABASE)
    assert pid in before and mark in before
    assert await redis_hits(pid)

    for headers in (alice.headers, sister.headers,
                    service_headers(alice.household_id, ["persons:act"])):
        resp = await client.post(f"/v1/admin/persons/{pid}/erasure", headers=headers)
        assert resp.status_code == 403, resp.text

    receipt = ok(await client.post(f"/v1/admin/persons/{pid}/erasure",
                                   headers=operator(alice.household_id)))
    assert receipt["service"] == "intent-graph"
    assert (receipt["tenant_id"], receipt["person_id"]) == (alice.household_id, pid)
    # Person; the intents int, child (triggered), tv, leg; dev (only alice's intent ran
    # on it); out (produced); the caps and gesture reports.
    assert receipt["removed"] == {"nodes": 9, "relationships": 12, "properties": 0}
    assert receipt["keys_destroyed"] == 0 and receipt["caches_purged"] > 0

    after = await graph_dump(DATABASE)
    for needle in (pid, mark):
        assert needle not in after, needle
        assert await redis_hits(needle) == [], needle
    for survivor in (sister, other):
        assert written[survivor.person_id]["mark"] in after
    for node_id in shared.values():  # the household's agent, policy group and TV stay
        assert ok(await client.get(f"/v1/nodes/{node_id}", headers=sister.headers))
    for survivor in (sister, other):
        spid, h, mine = survivor.person_id, survivor.headers, written[survivor.person_id]
        got = ok(await client.get(f"/v1/intents/{mine['intent']}", headers=h))
        assert (got["person_id"], got["state"]) == (spid, "completed")
        assert ok(await client.get("/caps/latest", headers=h))["caps"] == mine["caps"]
    ranked = ok(await client.get("/v1/routing/candidates", headers=sister.headers, params={
        "intent_type": "lights.on", "person_id": sister.person_id}))["candidates"]
    assert [(c["id"], c["handled"]) for c in ranked] == [(shared["agent"], 1)]
    resp = await client.get(f"/v1/intents/int-{mark}", headers=sister.headers)
    assert resp.status_code == 404

    again = ok(await client.post(f"/v1/admin/persons/{pid}/erasure",
                                 headers=operator(alice.household_id)))
    assert again["removed"] == {"nodes": 0, "relationships": 0, "properties": 0}
    assert (again["keys_destroyed"], again["caches_purged"]) == (0, 0)


async def test_a_triggered_intent_of_another_person_stays(client, make_caller):
    alice = make_caller()
    sister = make_caller(household_id=alice.household_id)
    written = await populate(client, alice, await household(client, alice))
    ok(await client.post("/v1/intents", headers=sister.headers, json={
        "id": f"hers-{written['mark']}", "type": "lights.dim",
        "person_id": sister.person_id, "parent_id": written["intent"]}), 201)
    ok(await client.post(f"/v1/admin/persons/{alice.person_id}/erasure",
                         headers=operator(alice.household_id)))
    got = ok(await client.get(f"/v1/intents/hers-{written['mark']}",
                              headers=sister.headers))
    assert got["person_id"] == sister.person_id


async def test_export_gives_the_persons_intents_and_reports(client, make_caller):
    alice = make_caller()
    sister = make_caller(household_id=alice.household_id)
    shared = await household(client, alice)
    written = await populate(client, alice, shared)
    await populate(client, sister, shared)
    pid, mark = alice.person_id, written["mark"]

    got = await export_lines(client, pid, operator(alice.household_id))
    nodes = {n["properties"]["id"]: n for n in got["nodes"]}
    assert set(nodes) == {pid, f"int-{mark}", f"child-{mark}", f"tv-{mark}", f"leg-{mark}",
                          f"dev-{mark}", f"out-{mark}", f"caps:{pid}", f"gesture:{pid}"}
    intent = nodes[f"int-{mark}"]
    assert intent["labels"] == ["IntentInstance"]
    assert {k: intent["properties"][k] for k in ("type", "state", "confidence",
                                                  "storage_id")} == {
        "type": "lights.on", "state": "completed", "confidence": 0.9,
        "storage_id": f"kv:intents/{mark}"}
    assert nodes[f"out-{mark}"]["properties"]["storage_id"] == f"obj:{mark}"
    assert nodes[f"gesture:{pid}"]["properties"]["card_id"] == f"card-{mark}"
    rels = {(r["start_id"], r["type"], r["end_id"]) for r in got["relationships"]}
    assert {(f"int-{mark}", "REQUESTED_BY", pid), (shared["agent"], "HANDLES", f"int-{mark}"),
            (f"int-{mark}", "ALLOWED_BY", shared["policy"]),
            (f"int-{mark}", "TRIGGERED", f"child-{mark}"),
            (f"tv-{mark}", "ON_DEVICE", shared["tv"]),
            (pid, "HAS_RESOURCE", f"gesture:{pid}")} <= rels
    assert len(got["relationships"]) == 12
    assert sister.person_id not in orjson.dumps(got).decode()
    assert await export_lines(client, pid, alice.headers, secrets=True) == got
    refused = await client.get(f"/v1/admin/persons/{pid}/export",
                               headers=operator(alice.household_id),
                               params={"include_secrets": "true"})
    assert refused.status_code == 403
