"""A household's token never sees, traverses into or writes another household's graph:
guessed ids, ids that collide across tenants, and paths that would cross tenants."""

from __future__ import annotations


async def batch(client, caller, nodes, rels=()):
    r = await client.post("/v1/nodes/batch", headers=caller.headers, json={
        "nodes": [{"id": i, "labels": [lbl]} for i, lbl in nodes]})
    assert r.status_code == 200, r.text
    if rels:
        r = await client.post("/v1/relationships/batch", headers=caller.headers, json={
            "relationships": [{"start_id": a, "type": t, "end_id": b} for a, t, b in rels]})
        assert r.status_code == 200, r.text


async def test_guessed_ids_are_invisible_and_unwritable(client, make_caller):
    a, b = make_caller(), make_caller()
    await batch(client, a, [("secret-dev", "Device"), ("a-person", "Person")],
                [("a-person", "OWNS", "secret-dev")])
    hb = b.headers
    assert (await client.get("/v1/nodes/secret-dev", headers=hb)).status_code == 404
    assert (await client.get("/v1/nodes/secret-dev/neighbours",
                             headers=hb)).status_code == 404
    assert (await client.get("/v1/nodes/secret-dev/subgraph", headers=hb)).status_code == 404
    assert (await client.patch("/v1/nodes/secret-dev", json={"props": {"status": "x"}},
                               headers=hb)).status_code == 404
    assert (await client.delete("/v1/nodes/secret-dev", headers=hb)).status_code == 404
    assert (await client.get("/v1/relationships/a-person/OWNS/secret-dev",
                             headers=hb)).status_code == 404
    assert (await client.delete("/v1/relationships/a-person/OWNS/secret-dev",
                                headers=hb)).status_code == 404
    # B links its own node to A's id: refused, and A's node gains no edge.
    await batch(client, b, [("b-person", "Person")])
    r = await client.post("/v1/relationships", headers=hb, json={
        "start_id": "b-person", "end_id": "secret-dev", "type": "OWNS"})
    assert r.status_code == 404
    r = await client.post("/graph/relations", headers=hb, json={
        "start_id": "b-person", "end_id": "secret-dev", "type": "OWNS"})
    assert r.status_code == 404
    mine = (await client.get("/v1/nodes/secret-dev", headers=a.headers)).json()
    assert mine["degree"] == 1 and "status" not in mine["props"]


async def test_colliding_ids_stay_apart(client, make_caller):
    a, b = make_caller(), make_caller()
    await batch(client, a, [("same", "Device"), ("a-p", "Person")], [("a-p", "OWNS", "same")])
    await batch(client, b, [("same", "Agent"), ("b-s", "Skill")])
    node_a = (await client.get("/v1/nodes/same", headers=a.headers)).json()
    node_b = (await client.get("/v1/nodes/same", headers=b.headers)).json()
    assert node_a["labels"] == ["Device"] and node_a["degree"] == 1
    assert node_b["labels"] == ["Agent"] and node_b["degree"] == 0
    hood = (await client.get("/v1/nodes/same/neighbours", headers=b.headers)).json()
    assert hood["items"] == []
    r = await client.delete("/v1/nodes/same", headers=b.headers)
    assert r.status_code == 204
    assert (await client.get("/v1/nodes/same", headers=a.headers)).status_code == 200


async def test_paths_never_cross_tenants(client, make_caller):
    a, b = make_caller(), make_caller()
    # A: x - y.  B: y - z (B's own y).  No path from A's x to z may exist.
    await batch(client, a, [("x", "Person"), ("y", "Device")], [("x", "OWNS", "y")])
    await batch(client, b, [("y", "Device"), ("z", "Person")], [("z", "OWNS", "y")])
    r = await client.get("/v1/paths/shortest", params={"from": "x", "to": "z"},
                         headers=a.headers)
    assert r.status_code == 404
    hood = (await client.get("/v1/nodes/x/neighbours", params={"depth": 4},
                             headers=a.headers)).json()
    assert [i["node"]["id"] for i in hood["items"]] == ["y"]
    sub = (await client.get("/v1/nodes/y/subgraph", params={"depth": 3},
                            headers=b.headers)).json()
    assert sorted(n["id"] for n in sub["nodes"]) == ["y", "z"]


async def test_legacy_state_is_per_tenant(client, make_caller, fake):
    a = make_caller(person_id="same-person")
    b = make_caller(person_id="same-person")
    r = await client.post("/context/update", headers=a.headers, json={
        "user_id": "same-person", "dimensions": [{"name": "k", "value": "a"}]})
    assert r.status_code == 200
    q = await client.post("/context/query", json={"user_id": "same-person"},
                          headers=b.headers)
    assert q.status_code == 404
