"""The /v1 traversal API on a real ArcadeDB: CRUD, batches, neighbours, paths, subgraphs,
person views, and the bounds that keep variable-length traversals in check."""

from __future__ import annotations


async def put(client, caller, node_id, label, **props):
    r = await client.put(f"/v1/nodes/{node_id}", json={"id": node_id, "labels": [label],
                                                       "props": props},
                         headers=caller.headers)
    assert r.status_code == 200, r.text
    return r.json()


async def rel(client, caller, start, rel_type, end, **props):
    r = await client.post("/v1/relationships", json={"start_id": start, "end_id": end,
                                                     "type": rel_type, "props": props},
                          headers=caller.headers)
    assert r.status_code == 200, r.text
    return r.json()


async def build_home(client, caller):
    """p -OWNS-> d1, d2; p -MEMBER_OF-> w -HAS_RESOURCE-> r1; s -FOR_PERSON-> p."""
    nodes = [{"id": "p", "labels": ["Person"]}, {"id": "d1", "labels": ["Device"]},
             {"id": "d2", "labels": ["Device"], "props": {"type": "tablet"}},
             {"id": "w", "labels": ["Workspace"]}, {"id": "r1", "labels": ["Resource"],
                                                     "props": {"storage_id": "kv:x/1"}},
             {"id": "s", "labels": ["Session"]}]
    r = await client.post("/v1/nodes/batch", json={"nodes": nodes}, headers=caller.headers)
    assert r.json() == {"upserted": 6}
    rels = [("p", "OWNS", "d1"), ("p", "OWNS", "d2"), ("p", "MEMBER_OF", "w"),
            ("w", "HAS_RESOURCE", "r1"), ("s", "FOR_PERSON", "p")]
    r = await client.post("/v1/relationships/batch", headers=caller.headers, json={
        "relationships": [{"start_id": a, "type": t, "end_id": b} for a, t, b in rels]})
    assert r.json() == {"upserted": 5}, r.text


async def test_node_crud_is_idempotent(client, alice):
    first = await put(client, alice, "dev-9", "Device", type="phone", confidence=0.5)
    again = await put(client, alice, "dev-9", "Device", type="phone", confidence=0.5)
    assert again["created_at"] == first["created_at"]
    assert again["props"] == {"type": "phone", "confidence": 0.5} and again["degree"] == 0
    r = await client.patch("/v1/nodes/dev-9", json={"props": {"confidence": None,
                                                              "status": "active"}},
                           headers=alice.headers)
    assert r.json()["props"] == {"type": "phone", "status": "active"}
    assert (await client.delete("/v1/nodes/dev-9", headers=alice.headers)).status_code == 204
    gone = await client.get("/v1/nodes/dev-9", headers=alice.headers)
    assert gone.status_code == 404
    assert gone.headers["content-type"].startswith("application/problem+json")
    assert (await client.delete("/v1/nodes/dev-9", headers=alice.headers)).status_code == 404


async def test_put_body_id_must_match_the_path(client, alice):
    r = await client.put("/v1/nodes/one", json={"id": "two", "labels": ["Device"]},
                         headers=alice.headers)
    assert r.status_code == 422 and r.json()["field"] == "id"


async def test_an_id_keeps_its_label(client, alice):
    await put(client, alice, "n-1", "Device")
    r = await client.put("/v1/nodes/n-1", json={"id": "n-1", "labels": ["Agent"]},
                         headers=alice.headers)
    assert r.status_code == 409


async def test_relationship_crud(client, alice):
    await build_home(client, alice)
    got = await client.get("/v1/relationships/p/OWNS/d1", headers=alice.headers)
    assert got.json()["type"] == "OWNS" and got.json()["start_id"] == "p"
    again = await rel(client, alice, "p", "OWNS", "d1", confidence=0.9)
    assert again["props"] == {"confidence": 0.9}
    node = (await client.get("/v1/nodes/p", headers=alice.headers)).json()
    assert node["degree"] == 4  # the upsert did not add a second OWNS edge
    r = await client.delete("/v1/relationships/p/OWNS/d1", headers=alice.headers)
    assert r.status_code == 204
    assert (await client.get("/v1/relationships/p/OWNS/d1",
                             headers=alice.headers)).status_code == 404
    missing = await client.post("/v1/relationships", headers=alice.headers, json={
        "start_id": "p", "end_id": "nowhere", "type": "OWNS"})
    assert missing.status_code == 404 and missing.json()["missing"][0]["end_id"] == "nowhere"


async def test_neighbours_depth_direction_types_labels_and_cursor(client, alice):
    await build_home(client, alice)
    h = alice.headers

    async def ids(**params):
        r = await client.get("/v1/nodes/p/neighbours", params=params, headers=h)
        assert r.status_code == 200, r.text
        return [(i["node"]["id"], i["depth"]) for i in r.json()["items"]]

    assert await ids() == [("d1", 1), ("d2", 1), ("s", 1), ("w", 1)]
    assert await ids(depth=2) == [("d1", 1), ("d2", 1), ("s", 1), ("w", 1), ("r1", 2)]
    assert await ids(direction="in") == [("s", 1)]
    assert await ids(direction="out", depth=2, types="MEMBER_OF,HAS_RESOURCE") == [
        ("w", 1), ("r1", 2)]
    assert await ids(depth=2, labels="Resource,Session") == [("s", 1), ("r1", 2)]
    page1 = (await client.get("/v1/nodes/p/neighbours", params={"limit": 3},
                              headers=h)).json()
    assert len(page1["items"]) == 3 and page1["next_cursor"]
    page2 = (await client.get("/v1/nodes/p/neighbours",
                              params={"limit": 3, "cursor": page1["next_cursor"]},
                              headers=h)).json()
    assert [i["node"]["id"] for i in page2["items"]] == ["w"] and page2["next_cursor"] is None
    assert (await client.get("/v1/nodes/zzz/neighbours", headers=h)).status_code == 404
    bad = await client.get("/v1/nodes/p/neighbours", params={"types": "LIKES"}, headers=h)
    assert bad.status_code == 422


async def test_shortest_path_and_subgraph(client, alice):
    await build_home(client, alice)
    h = alice.headers
    r = await client.get("/v1/paths/shortest", params={"from": "d1", "to": "r1"}, headers=h)
    assert r.status_code == 200, r.text
    path = r.json()
    assert path["length"] == 3
    assert [n["id"] for n in path["nodes"]] == ["d1", "p", "w", "r1"]
    assert [x["type"] for x in path["relationships"]] == ["OWNS", "MEMBER_OF",
                                                          "HAS_RESOURCE"]
    short = await client.get("/v1/paths/shortest",
                             params={"from": "d1", "to": "r1", "max_depth": 2}, headers=h)
    assert short.status_code == 404
    sub = (await client.get("/v1/nodes/w/subgraph", params={"depth": 1},
                            headers=h)).json()
    assert sorted(n["id"] for n in sub["nodes"]) == ["p", "r1", "w"]
    assert sorted((x["start_id"], x["type"], x["end_id"]) for x in sub["relationships"]) == [
        ("p", "MEMBER_OF", "w"), ("w", "HAS_RESOURCE", "r1")]
    assert sub["truncated"] is False


async def test_person_views(client, alice, make_caller):
    owner = make_caller(person_id="p", household_id=alice.household_id)
    await build_home(client, owner)
    h = owner.headers

    async def view(name):
        r = await client.get(f"/v1/persons/p/{name}", headers=h)
        assert r.status_code == 200, r.text
        return [n["id"] for n in r.json()["items"]]

    assert await view("devices") == ["d1", "d2"]
    assert await view("sessions") == ["s"]
    assert await view("resources") == ["r1"]
    assert await view("agents") == []
    # Another person of the household may not read p's views.
    assert (await client.get("/v1/persons/p/devices", headers=alice.headers)).status_code == 403


async def test_bounds_are_422_naming_the_limit(client, alice):
    await put(client, alice, "b-1", "Device")
    h = alice.headers
    r = await client.get("/v1/nodes/b-1/neighbours", params={"depth": 9}, headers=h)
    assert r.status_code == 422 and "max_depth" in r.json()["detail"]
    assert r.json()["limit"] == 4
    r = await client.get("/v1/nodes/b-1/neighbours", params={"limit": 5000}, headers=h)
    assert r.status_code == 422 and "max_limit" in r.json()["detail"]
    r = await client.get("/v1/paths/shortest", params={"from": "b-1", "to": "x",
                                                       "max_depth": 50}, headers=h)
    assert r.status_code == 422 and "max_depth" in r.json()["detail"]
    r = await client.get("/v1/nodes/b-1/subgraph", params={"limit": 1000}, headers=h)
    assert r.status_code == 422 and "max_subgraph_nodes" in r.json()["detail"]
    r = await client.get("/v1/nodes/b-1/neighbours", params={"cursor": "!!"}, headers=h)
    assert r.status_code == 422
    nodes = [{"id": f"n{i}", "labels": ["Device"]} for i in range(501)]
    r = await client.post("/v1/nodes/batch", json={"nodes": nodes}, headers=h)
    assert r.status_code == 422 and "max_batch" in r.json()["detail"]
