"""/v1/vectors: collections, documents, filtered / text / hybrid search, every bad input
answered 4xx naming the problem, and tenancy (a guessed name or id finds nothing)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

V = "/v1/vectors/collections"


def _name() -> str:
    return f"c-{uuid.uuid4().hex[:8]}"


async def make_collection(client: Any, caller: Any, dimension: int = 3,
                          distance: str = "cosine", **extra: Any) -> str:
    name = extra.pop("name", None) or _name()
    r = await client.post(V, json={"name": name, "dimension": dimension,
                                   "distance": distance, **extra}, headers=caller.headers)
    assert r.status_code == 201, r.text
    return name


async def upsert(client: Any, caller: Any, name: str, docs: list[dict[str, Any]],
                 **params: Any) -> None:
    r = await client.post(f"{V}/{name}/documents", json={"documents": docs},
                          params=params, headers=caller.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"upserted": len(docs)}


async def search(client: Any, caller: Any, name: str, **body: Any) -> dict[str, Any]:
    r = await client.post(f"{V}/{name}/search", json=body, headers=caller.headers)
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


async def test_collection_lifecycle(client, alice):
    name = await make_collection(client, alice, dimension=4, distance="l2",
                                 hnsw={"m": 8, "ef_construction": 32}, metadata={"a": 1})
    got = (await client.get(f"{V}/{name}", headers=alice.headers)).json()
    assert got["dimension"] == 4 and got["distance"] == "l2" and got["shared"] is False
    assert got["person_id"] == alice.person_id and got["hnsw"] == {"m": 8, "ef_construction": 32}
    listed = (await client.get(V, headers=alice.headers)).json()["items"]
    assert [c["name"] for c in listed] == [name]
    again = await client.post(V, json={"name": name, "dimension": 4}, headers=alice.headers)
    assert again.status_code == 409 and name in again.json()["detail"]
    await upsert(client, alice, name, [{"id": "a", "embedding": [1, 2, 3, 4]}])
    gone = await client.delete(f"{V}/{name}", headers=alice.headers)
    assert gone.status_code == 200 and gone.json() == {"name": name, "documents": 1}
    assert (await client.get(f"{V}/{name}", headers=alice.headers)).status_code == 404
    # The name is free again, with another dimension (its index went with it).
    await make_collection(client, alice, dimension=2, name=name)
    await upsert(client, alice, name, [{"id": "a", "embedding": [1, 2]}])


async def test_documents_round_trip_and_order(client, alice):
    for distance, expected in (("cosine", ["x", "y", "z"]), ("l2", ["x", "y", "z"]),
                               ("inner_product", ["z", "y", "x"])):
        name = await make_collection(client, alice, distance=distance)
        await upsert(client, alice, name, [
            {"id": "x", "embedding": [1, 0, 0], "text": "first", "metadata": {"n": 1}},
            {"id": "y", "embedding": [2, 1, 0], "metadata": {"n": 2}},
            {"id": "z", "embedding": [3, 3, 4], "metadata": {"n": 3}}])
        result = await search(client, alice, name, embedding=[1, 0, 0], limit=3)
        assert [h["id"] for h in result["items"]] == expected, distance
        assert result["k_requested"] == 3 and result["k_returned"] == 3
        assert result["exhaustive"] is True and result["strategy"] == "exact"
    doc = (await client.get(f"{V}/{name}/documents/x", headers=alice.headers)).json()
    assert doc["embedding"] == [1.0, 0.0, 0.0] and doc["text"] == "first"
    assert doc["metadata"] == {"n": 1}
    # Upsert replaces by id.
    await upsert(client, alice, name, [{"id": "x", "embedding": [0, 0, 9], "text": "new"}])
    doc = (await client.get(f"{V}/{name}/documents/x", headers=alice.headers)).json()
    assert doc["embedding"] == [0.0, 0.0, 9.0] and doc["text"] == "new" and doc["metadata"] == {}
    one = await search(client, alice, name, embedding=[1, 0, 0], limit=1,
                       include_embedding=True)
    assert one["items"][0]["embedding"] is not None and one["k_returned"] == 1
    assert (await client.delete(f"{V}/{name}/documents/x",
                                headers=alice.headers)).status_code == 204
    assert (await client.get(f"{V}/{name}/documents/x",
                             headers=alice.headers)).status_code == 404
    assert (await client.delete(f"{V}/{name}/documents/x",
                                headers=alice.headers)).status_code == 404


async def test_metadata_filters_and_delete_by_filter(client, alice):
    name = await make_collection(client, alice)
    docs = [{"id": f"d{i}", "embedding": [1, i, 0],
             "metadata": {"kind": "a" if i % 2 else "b", "n": i, "tag": f"t{i % 3}",
                          "at": f"2025-01-{i + 1:02d}T00:00:00Z"}} for i in range(10)]
    docs.append({"id": "odd", "embedding": [1, 1, 1], "metadata": {"n": "seven", "at": 5}})
    await upsert(client, alice, name, docs)

    async def ids(flt: dict[str, Any]) -> set[str]:
        result = await search(client, alice, name, embedding=[1, 0, 0], limit=100,
                              filter=flt)
        assert result["k_returned"] == len(result["items"])
        return {h["id"] for h in result["items"]}

    assert await ids({"kind": "a"}) == {"d1", "d3", "d5", "d7", "d9"}
    assert await ids({"tag": {"$in": ["t0", "t2"]}, "kind": "b"}) == {"d0", "d2", "d4",
                                                                       "d6", "d8"} - {"d4"}
    assert await ids({"n": {"$gte": 3, "$lt": 6}}) == {"d3", "d4", "d5"}
    assert await ids({"at": {"$gt": "2025-01-08T00:00:00+00:00"}}) == {"d8", "d9"}
    assert await ids({"kind": {"$ne": "a"}, "n": {"$lte": 2}}) == {"d0", "d2"}
    assert await ids({"n": {"$eq": "seven"}}) == {"odd"}
    deleted = await client.post(f"{V}/{name}/documents/delete",
                                json={"filter": {"kind": "a"}}, headers=alice.headers)
    assert deleted.status_code == 200 and deleted.json() == {"deleted": 5}
    by_id = await client.post(f"{V}/{name}/documents/delete", json={"ids": ["d0", "d1"]},
                              headers=alice.headers)
    assert by_id.json() == {"deleted": 1}
    assert await ids({}) == {"d2", "d4", "d6", "d8", "odd"}


async def test_hybrid_finds_a_document_only_its_text_matches(client, alice):
    name = await make_collection(client, alice, dimension=2)
    docs = [{"id": f"n{i}", "embedding": [1, i / 100], "text": "plain words"}
            for i in range(80)]
    docs.append({"id": "needle", "embedding": [-1, -0.5],
                 "text": "the quarterly zebra migration report"})
    await upsert(client, alice, name, docs)
    vector = await search(client, alice, name, embedding=[1, 0], limit=5)
    assert "needle" not in {h["id"] for h in vector["items"]}
    text = await search(client, alice, name, mode="text", text="zebra migration", limit=5)
    assert [h["id"] for h in text["items"]] == ["needle"] and text["strategy"] == "text"
    assert text["exhaustive"] is True and text["k_returned"] == 1
    hybrid = await search(client, alice, name, mode="hybrid", embedding=[1, 0],
                          text="zebra", limit=5)
    found = {h["id"]: h for h in hybrid["items"]}
    assert "needle" in found and hybrid["k_returned"] == 5
    assert found["needle"]["text_rank"] > 0 and found["needle"]["distance"] is None
    assert found["n0"]["distance"] == pytest.approx(0.0, abs=1e-6)


BAD_SEARCH = [
    ({"embedding": [1, 2]}, "2 dimensions"),
    ({"embedding": [1, 2, 3], "mode": "text"}, "text: required"),
    ({"text": "x", "mode": "hybrid"}, "embedding: required"),
    ({"embedding": [0, 0, 0]}, "zero vector"),
    ({"embedding": [1e39, 0, 0]}, "32-bit"),
    ({"embedding": [1, 2, 3], "mode": "fuzzy"}, "mode"),
    ({"embedding": [1, 2, 3], "filter": {"n": {"$regex": "x"}}}, "unknown operator"),
    ({"embedding": [1, 2, 3], "filter": {"n": {"$gt": "yesterday"}}}, "ISO 8601"),
    ({"embedding": [1, 2, 3], "filter": {"n": {"$gt": "2025-01-01"}}}, "zone"),
    ({"embedding": [1, 2, 3], "filter": {"n": {"$in": [[1]]}}}, "$in"),
    ({"embedding": [1, 2, 3], "limit": 0}, "limit"),
]


async def test_bad_input_is_refused_naming_the_problem(client, alice):
    name = await make_collection(client, alice)
    h = {**alice.headers, "content-type": "application/json"}
    for body, words in BAD_SEARCH:
        r = await client.post(f"{V}/{name}/search", json=body, headers=alice.headers)
        assert r.status_code == 422, (body, r.text)
        assert words in r.text, (body, r.text)
    for raw in (b'{"embedding": [NaN, 1, 2]}', b'{"embedding": [Infinity, 1, 2]}',
                b'{"embedding": [1e999, 1, 2]}'):
        r = await client.post(f"{V}/{name}/search", content=raw, headers=h)
        assert r.status_code == 422, (raw, r.text)
        assert "embedding" in r.text and "finite" in r.text, r.text
        r = await client.post(f"{V}/{name}/documents",
                              content=b'{"documents": [{"id": "a", ' + raw[1:] + b"]}",
                              headers=h)
        assert r.status_code == 422 and "finite" in r.text, r.text
    wrong = await client.post(f"{V}/{name}/documents", json={"documents": [
        {"id": "a", "embedding": [1, 2, 3]}, {"id": "b", "embedding": [1, 2]}]},
        headers=alice.headers)
    assert wrong.status_code == 422 and "documents[1].embedding: 2 dimensions" in wrong.text
    twice = await client.post(f"{V}/{name}/documents", json={"documents": [
        {"id": "a", "embedding": [1, 2, 3]}, {"id": "a", "embedding": [1, 2, 3]}]},
        headers=alice.headers)
    assert twice.status_code == 422 and "appears twice" in twice.text
    # Nothing of a refused batch was stored.
    assert (await client.get(f"{V}/{name}/documents/a",
                             headers=alice.headers)).status_code == 404
    unknown = await client.post(V, json={"name": _name(), "dimension": 3,
                                         "distance": "manhattan"}, headers=alice.headers)
    assert unknown.status_code == 422 and "distance" in unknown.text
    for body in ({"name": "bad name", "dimension": 3}, {"name": _name(), "dimension": 0},
                 {"name": _name(), "dimension": 2001},
                 {"name": _name(), "dimension": 3, "hnsw": {"m": 16, "ef_construction": 20}}):
        r = await client.post(V, json=body, headers=alice.headers)
        assert r.status_code == 422, (body, r.text)
    missing = await client.post(f"{V}/nope-{uuid.uuid4().hex[:6]}/search",
                                json={"embedding": [1, 2, 3]}, headers=alice.headers)
    assert missing.status_code == 404 and "no vector collection" in missing.text
    empty = await client.post(f"{V}/{name}/documents/delete", json={},
                              headers=alice.headers)
    assert empty.status_code == 422 and "ids or filter" in empty.text
    assert (await client.post(f"{V}/{name}/search",
                              json={"embedding": [1, 2, 3]})).status_code == 401


async def test_tenancy_and_sharing(client, alice, bob, make_caller):
    name = await make_collection(client, alice)
    await upsert(client, alice, name, [{"id": "secret", "embedding": [1, 2, 3],
                                        "text": "alice only"}])
    # Another household guessing the name and id finds nothing, and its own collection
    # of the same name is its own.
    assert (await client.get(f"{V}/{name}", headers=bob.headers)).status_code == 404
    assert (await client.get(f"{V}/{name}/documents/secret",
                             headers=bob.headers)).status_code == 404
    assert (await client.post(f"{V}/{name}/search", json={"embedding": [1, 2, 3]},
                              headers=bob.headers)).status_code == 404
    await make_collection(client, bob, name=name)
    empty = await search(client, bob, name, embedding=[1, 2, 3])
    assert empty["items"] == [] and empty["exhaustive"] is True
    deleted = await client.post(f"{V}/{name}/documents/delete", json={"ids": ["secret"]},
                                headers=bob.headers)
    assert deleted.json() == {"deleted": 0}
    assert (await search(client, alice, name, embedding=[1, 2, 3]))["k_returned"] == 1
    # A housemate sees the household's shared collection, not alice's own.
    carol = make_caller(household_id=alice.household_id)
    assert (await client.get(f"{V}/{name}", headers=carol.headers)).status_code == 404
    shared = await make_collection(client, alice, shared=True)
    await upsert(client, carol, shared, [{"id": "s", "embedding": [3, 2, 1]}])
    hits = await search(client, alice, shared, embedding=[3, 2, 1])
    assert [h["id"] for h in hits["items"]] == ["s"]
    # Same name as alice's own and shared: her own first, ?shared=true the household's.
    await make_collection(client, alice, shared=True, name=name)
    assert (await client.get(f"{V}/{name}", headers=alice.headers)).json()["shared"] is False
    r = await client.get(f"{V}/{name}", params={"shared": "true"}, headers=alice.headers)
    assert r.json()["shared"] is True and r.json()["person_id"] is None
    assert (await client.get(f"{V}/{name}", headers=carol.headers)).json()["shared"] is True
