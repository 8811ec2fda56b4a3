"""Vectors surface: collections, batch upserts, search in each mode, filtered deletes."""

from __future__ import annotations

import pytest

from unison_client import DuplicateError, NotFoundError, UnisonClient, ValidationError
from unison_client.models import DocumentIn


def _unit(i: int, dim: int = 4) -> list[float]:
    return [1.0 if j == i % dim else 0.0 for j in range(dim)]


async def test_collection_upsert_search_delete(u: UnisonClient) -> None:
    created = await u.vectors.create_collection("notes", 4, distance="cosine",
                                                metadata={"model": "tiny"})
    assert (created.name, created.dimension, created.shared) == ("notes", 4, False)
    with pytest.raises(DuplicateError):
        await u.vectors.create_collection("notes", 4)
    assert [c.name for c in await u.vectors.collections()] == ["notes"]
    assert (await u.vectors.collection("notes")).metadata == {"model": "tiny"}

    docs = [DocumentIn(id=f"d{i}", embedding=_unit(i), text=f"note number {i}",
                       metadata={"n": i, "kind": "even" if i % 2 == 0 else "odd"})
            for i in range(8)]
    docs.append({"id": "train", "embedding": [0.0, 0.9, 0.1, 0.0],  # type: ignore[arg-type]
                 "text": "the train to Lyon leaves at nine"})
    assert await u.vectors.upsert("notes", docs) == 9

    hits = await u.vectors.search("notes", _unit(1), limit=3)
    assert hits.items[0].id in {"d1", "d5"} and hits.k_requested == 3
    assert hits.k_returned == len(hits.items) == 3 and hits.mode == "vector"
    odd = await u.vectors.search("notes", _unit(0), limit=10, filter={"kind": "odd"})
    assert {h.id for h in odd.items} == {"d1", "d3", "d5", "d7"} and odd.exhaustive
    ranged = await u.vectors.search("notes", _unit(0), filter={"n": {"$gte": 2, "$lt": 4}})
    assert {h.id for h in ranged.items} == {"d2", "d3"}
    text = await u.vectors.search("notes", text="Lyon train", mode="text", limit=2)
    assert [h.id for h in text.items] == ["train"]
    hybrid = await u.vectors.search("notes", _unit(0), text="Lyon", mode="hybrid", limit=5)
    assert "train" in {h.id for h in hybrid.items}

    doc = await u.vectors.get("notes", "d2")
    assert doc.embedding == _unit(2) and doc.metadata["n"] == 2
    await u.vectors.delete("notes", "d2")
    with pytest.raises(NotFoundError):
        await u.vectors.get("notes", "d2")
    assert await u.vectors.delete_where("notes", filter={"kind": "odd"}) == 4
    assert await u.vectors.delete_where("notes", ids=["d0", "nope"]) == 1
    gone = await u.vectors.delete_collection("notes")
    assert gone.documents == 3  # d4, d6 and train
    with pytest.raises(NotFoundError):
        await u.vectors.collection("notes")


async def test_bad_vectors_name_the_problem(u: UnisonClient) -> None:
    await u.vectors.create_collection("c", 3)
    with pytest.raises(ValidationError) as wrong_dim:
        await u.vectors.upsert("c", [{"id": "a", "embedding": [1.0, 2.0]}])
    assert "dimension" in wrong_dim.value.detail or wrong_dim.value.fields
    with pytest.raises(ValidationError) as bad_distance:
        await u.vectors.create_collection("d", 3, distance="manhattan")  # type: ignore[arg-type]
    assert bad_distance.value.fields == ["distance"]
    with pytest.raises(NotFoundError):
        await u.vectors.search("absent", [1.0, 0.0, 0.0])


async def test_a_household_collection_is_shared(make_client, alice, make_caller) -> None:
    housemate = make_caller(household_id=alice.household_id)
    mine, theirs = make_client(alice), make_client(housemate)
    await mine.vectors.create_collection("family", 2, shared=True)
    await mine.vectors.upsert("family", [{"id": "x", "embedding": [1.0, 0.0]}], shared=True)
    found = await theirs.vectors.search("family", [1.0, 0.0], shared=True)
    assert [h.id for h in found.items] == ["x"]
    assert (await theirs.vectors.collection("family")).shared is True
