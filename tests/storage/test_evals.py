"""Evaluations: datasets, items, frozen versions, runs, scores, summaries, comparisons,
bad input and isolation between households."""

from __future__ import annotations

import asyncio

import pytest

E = "/v1/evals"


async def dataset(client, caller, name="qa", items=3, version=None) -> dict:
    body = {"name": name, "description": "questions", "metadata": {"lang": "en"}}
    if version is not None:
        body["version"] = version
    r = await client.post(f"{E}/datasets", json=body, headers=caller.headers)
    assert r.status_code == 201, r.text
    ds = r.json()
    if items:
        r = await client.post(f"{E}/datasets/{ds['id']}/items", headers=caller.headers,
                              json={"items": [{"id": f"i{n}", "input": {"q": n},
                                               "expected": n * 2} for n in range(items)]})
        assert r.status_code == 200, r.text
        ds = r.json()
    return ds


async def run(client, caller, ds: dict, model="m1") -> dict:
    r = await client.post(f"{E}/runs", json={"dataset_id": ds["id"], "model_name": model,
                                            "config": {"t": 0}}, headers=caller.headers)
    assert r.status_code == 201, r.text
    return r.json()


async def test_dataset_versions_items_and_freezing(client, alice):
    first = await dataset(client, alice)
    assert first["version"] == 1 and first["item_count"] == 3 and first["frozen"] is False
    second = await dataset(client, alice, items=0)
    assert second["version"] == 2  # one above the newest of that name
    dup = await client.post(f"{E}/datasets", json={"name": "qa", "version": 1},
                            headers=alice.headers)
    assert dup.status_code == 409
    again = await client.post(f"{E}/datasets/{first['id']}/items", headers=alice.headers,
                              json={"items": [{"id": "i0", "input": 0}, {"input": "new"}]})
    assert again.json()["item_count"] == 4  # i0 was there already: skipped
    items = (await client.get(f"{E}/datasets/{first['id']}/items", headers=alice.headers,
                              params={"limit": 3})).json()
    assert [i["id"] for i in items["items"]] == ["i0", "i1", "i2"] and items["next_cursor"]
    rest = (await client.get(f"{E}/datasets/{first['id']}/items", headers=alice.headers,
                             params={"cursor": items["next_cursor"]})).json()
    assert len(rest["items"]) == 1 and rest["items"][0]["input"] == "new"
    await run(client, alice, first)
    frozen = await client.post(f"{E}/datasets/{first['id']}/items", headers=alice.headers,
                               json={"items": [{"input": "late"}]})
    assert frozen.status_code == 409 and "new version" in frozen.json()["detail"]
    listed = (await client.get(f"{E}/datasets", params={"name": "qa"},
                               headers=alice.headers)).json()
    assert [(d["version"], d["frozen"]) for d in listed["items"]] == [(1, True), (2, False)]


async def test_scores_summary_and_comparison(client, alice):
    ds = await dataset(client, alice, items=4)
    a, b = await run(client, alice, ds, "small"), await run(client, alice, ds, "large")
    scores_a = [{"item_id": f"i{n}", "metric": "exact", "value": v}
                for n, v in enumerate([1, 0, 0, 1])]
    scores_b = [{"item_id": f"i{n}", "metric": "exact", "value": v}
                for n, v in enumerate([1, 1, 0])]  # i3 not scored by b
    scores_b.append({"item_id": "i0", "metric": "latency_ms", "value": 120.0,
                     "scorer": "timer", "reason": "wall clock"})
    for r_, scores in ((a, scores_a), (b, scores_b)):
        stored = await client.post(f"{E}/runs/{r_['id']}/scores", json={"scores": scores},
                                   headers=alice.headers)
        assert stored.json() == {"stored": len(scores)}
    summary = (await client.get(f"{E}/runs/{a['id']}/summary", headers=alice.headers)).json()
    exact = summary["metrics"][0]
    assert exact == {"metric": "exact", "count": 4, "mean": 0.5, "min": 0.0, "max": 1.0,
                     "p50": 0.5, "p95": 1.0}
    cmp = (await client.get(f"{E}/compare", params={"run_a": a["id"], "run_b": b["id"]},
                            headers=alice.headers)).json()
    assert cmp["metrics"] == [{"metric": "exact", "shared_items": 3, "mean_a": 1 / 3,
                               "mean_b": 2 / 3, "delta": 1 / 3, "b_better": 1,
                               "a_better": 0, "ties": 2}]
    # A repeated score replaces the earlier one.
    await client.post(f"{E}/runs/{a['id']}/scores", headers=alice.headers,
                      json={"scores": [{"item_id": "i1", "metric": "exact", "value": 1}]})
    again = (await client.get(f"{E}/runs/{a['id']}/summary", headers=alice.headers)).json()
    assert again["metrics"][0]["mean"] == 0.75
    done = await client.patch(f"{E}/runs/{a['id']}", headers=alice.headers,
                              json={"status": "completed", "summary": {"note": "ok"}})
    assert done.json()["status"] == "completed" and done.json()["completed_at"]
    runs = (await client.get(f"{E}/runs", params={"dataset_id": ds["id"]},
                             headers=alice.headers)).json()
    assert [x["id"] for x in runs["items"]] == [b["id"], a["id"]]


async def test_runs_and_item_adds_never_interleave(client, alice):
    """A run and a concurrent batch of items on one version: either the items went in
    before the run froze it, or they were refused; never added after the freeze."""
    ds = await dataset(client, alice, items=1)
    add = client.post(f"{E}/datasets/{ds['id']}/items", headers=alice.headers,
                      json={"items": [{"input": n} for n in range(50)]})
    started = client.post(f"{E}/runs", json={"dataset_id": ds["id"], "model_name": "m"},
                          headers=alice.headers)
    added, made = await asyncio.gather(add, started)
    assert made.status_code == 201 and added.status_code in (200, 409)
    final = (await client.get(f"{E}/datasets/{ds['id']}", headers=alice.headers)).json()
    assert final["frozen"] is True
    assert final["item_count"] == (51 if added.status_code == 200 else 1)


@pytest.mark.parametrize(("path", "body", "status", "field"), [
    ("/datasets", {"name": ""}, 422, "name"),
    ("/datasets", {"name": "x", "version": 0}, 422, "version"),
    ("/datasets/ds_missing/items", {"items": [{"input": 1}]}, 404, None),
    ("/runs", {"dataset_id": "ds_missing", "model_name": "m"}, 404, None),
    ("/runs/run_missing/scores", {"scores": [{"item_id": "i", "metric": "m", "value": 1}]},
     404, None),
])
async def test_bad_input_is_4xx(client, alice, path, body, status, field):
    r = await client.post(f"{E}{path}", json=body, headers=alice.headers)
    assert r.status_code == status, r.text
    if field:
        assert r.json()["detail"].startswith(field)


async def test_scores_for_unknown_items_or_nan_store_nothing(client, alice):
    ds = await dataset(client, alice, items=1)
    r_ = await run(client, alice, ds)
    mixed = await client.post(f"{E}/runs/{r_['id']}/scores", headers=alice.headers, json={
        "scores": [{"item_id": "i0", "metric": "m", "value": 1},
                   {"item_id": "nope", "metric": "m", "value": 1}]})
    assert mixed.status_code == 422 and "1 item id(s)" in mixed.json()["detail"]
    nan = await client.post(f"{E}/runs/{r_['id']}/scores",
                            headers={**alice.headers, "Content-Type": "application/json"},
                            content=b'{"scores": [{"item_id": "i0", "metric": "m", '
                                    b'"value": NaN}]}')
    assert nan.status_code == 422
    summary = (await client.get(f"{E}/runs/{r_['id']}/summary", headers=alice.headers)).json()
    assert summary["metrics"] == []  # the mixed batch was refused whole


async def test_households_never_see_each_others_evals(client, alice, bob, make_caller):
    ds = await dataset(client, alice, name="private")
    r_ = await run(client, alice, ds)
    for path in (f"/datasets/{ds['id']}", f"/datasets/{ds['id']}/items", f"/runs/{r_['id']}",
                 f"/runs/{r_['id']}/summary"):
        assert (await client.get(f"{E}{path}", headers=bob.headers)).status_code == 404
    assert (await client.get(f"{E}/datasets", headers=bob.headers)).json()["items"] == []
    sneaky = await client.post(f"{E}/runs/{r_['id']}/scores", headers=bob.headers,
                               json={"scores": [{"item_id": "i0", "metric": "m", "value": 1}]})
    assert sneaky.status_code == 404
    # A person of the same household shares the household's evaluation data.
    sister = make_caller(household_id=alice.household_id)
    assert (await client.get(f"{E}/datasets/{ds['id']}",
                             headers=sister.headers)).status_code == 200
