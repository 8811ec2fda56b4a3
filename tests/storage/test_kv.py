"""KV over HTTP: the /v1 API with ETag check-and-set, and the legacy paths."""

from __future__ import annotations

import asyncio

import pytest


async def test_put_get_roundtrip_with_etag(client, alice):
    r = await client.put("/v1/kv/prefs/theme", json={"value": {"dark": True}},
                         headers=alice.headers)
    assert r.status_code == 201, r.text
    assert r.headers["etag"] == '"1"'
    r = await client.get("/v1/kv/prefs/theme", headers=alice.headers)
    assert r.status_code == 200
    assert r.json()["value"] == {"dark": True}
    assert r.headers["etag"] == '"1"'


async def test_if_match_conflict_is_412(client, alice):
    await client.put("/v1/kv/ns/k", json={"value": 1}, headers=alice.headers)
    ok = await client.put("/v1/kv/ns/k", json={"value": 2},
                          headers={**alice.headers, "If-Match": '"1"'})
    assert ok.status_code == 200 and ok.headers["etag"] == '"2"'
    stale = await client.put("/v1/kv/ns/k", json={"value": 3},
                             headers={**alice.headers, "If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.headers["content-type"].startswith("application/problem+json")
    assert (await client.get("/v1/kv/ns/k", headers=alice.headers)).json()["value"] == 2


async def test_if_none_match_creates_only_once(client, alice):
    h = {**alice.headers, "If-None-Match": "*"}
    assert (await client.put("/v1/kv/ns/once", json={"value": 1}, headers=h)).status_code == 201
    assert (await client.put("/v1/kv/ns/once", json={"value": 2}, headers=h)).status_code == 412


async def test_concurrent_cas_has_exactly_one_winner(client, alice):
    await client.put("/v1/kv/ns/race", json={"value": 0}, headers=alice.headers)
    results = await asyncio.gather(*[
        client.put("/v1/kv/ns/race", json={"value": i},
                   headers={**alice.headers, "If-Match": '"1"'}) for i in range(8)])
    codes = sorted(r.status_code for r in results)
    assert codes == [200] + [412] * 7


async def test_ttl_expired_record_is_not_returned(client, alice, storage_app):
    await client.put("/v1/kv/ns/short", json={"value": 1, "ttl_seconds": 1},
                     headers=alice.headers)
    assert (await client.get("/v1/kv/ns/short", headers=alice.headers)).status_code == 200
    await asyncio.sleep(1.2)
    assert (await client.get("/v1/kv/ns/short", headers=alice.headers)).status_code == 404
    legacy = await client.get("/kv/ns/short", headers=alice.headers)
    assert legacy.json()["value"] is None
    from unison_storage.sweeper import sweep_once

    totals = await sweep_once(storage_app.state.services, 100)
    assert totals["kv_records"] >= 1


async def test_delete_and_list_paginates(client, alice):
    for i in range(5):
        await client.put(f"/v1/kv/list/item-{i}", json={"value": i}, headers=alice.headers)
    page = (await client.get("/v1/kv/list?limit=2", headers=alice.headers)).json()
    assert [x["key"] for x in page["items"]] == ["item-0", "item-1"]
    seen = [x["key"] for x in page["items"]]
    while page["next_cursor"]:
        page = (await client.get(f"/v1/kv/list?limit=2&cursor={page['next_cursor']}",
                                 headers=alice.headers)).json()
        seen += [x["key"] for x in page["items"]]
    assert seen == [f"item-{i}" for i in range(5)]
    assert (await client.delete("/v1/kv/list/item-0", headers=alice.headers)).status_code == 204
    assert (await client.delete("/v1/kv/list/item-0", headers=alice.headers)).status_code == 404


async def test_legacy_put_get_and_default_namespace(client, alice):
    r = await client.put("/kv/vdi_artifacts/a1", json={"value": {"artifact_id": "a1"}},
                         headers={**alice.headers, "X-Event-ID": "ev-1"})
    assert r.json() == {"ok": True, "event_id": "ev-1"}
    got = (await client.get("/kv/vdi_artifacts/a1", headers=alice.headers)).json()
    assert got["ok"] is True and got["value"] == {"artifact_id": "a1"}
    await client.put("/kv/plain-key", json={"value": "x"}, headers=alice.headers)
    assert (await client.get("/v1/kv/default/plain-key",
                             headers=alice.headers)).json()["value"] == "x"
    missing = (await client.get("/kv/vdi_artifacts/none", headers=alice.headers)).json()
    assert missing["ok"] is True and missing["value"] is None


async def test_other_household_cannot_read_or_overwrite(client, alice, bob):
    await client.put("/v1/kv/ns/mine", json={"value": "alice"}, headers=alice.headers)
    assert (await client.get("/v1/kv/ns/mine", headers=bob.headers)).status_code == 404
    await client.put("/v1/kv/ns/mine", json={"value": "bob"}, headers=bob.headers)
    assert (await client.get("/v1/kv/ns/mine", headers=alice.headers)).json()["value"] == "alice"
    assert (await client.get("/v1/kv/ns", headers=bob.headers)).json()["items"][0]["value"] == "bob"


@pytest.mark.parametrize(("method", "path", "body"), [
    ("put", "/v1/kv/bad%20ns/k", {"value": 1}),
    ("put", "/v1/kv/ns/k", {"value": 1, "ttl_seconds": -1}),
    ("put", "/v1/kv/ns/k", None),
    ("get", "/v1/kv/ns?limit=0", None),
    ("get", "/v1/kv/ns?cursor=%%%", None),
])
async def test_bad_input_is_4xx_with_reason(client, alice, method, path, body):
    r = await client.request(method.upper(), path, json=body, headers=alice.headers)
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["detail"]


async def test_missing_and_bad_tokens(client):
    r = await client.get("/v1/kv/ns/k")
    assert r.status_code == 401
    r = await client.get("/kv/ns/k", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 403 and "detail" in r.json()


async def test_values_round_trip_exactly(client, alice):
    value = {"big": 123456789012345678901234567890, "neg_zero": -0.0, "uni": "é\u2028",
             "nested": [1, {"a": None}], "float": 0.1}
    await client.put("/v1/kv/exact/v", json={"value": value}, headers=alice.headers)
    got = (await client.get("/v1/kv/exact/v", headers=alice.headers)).json()["value"]
    assert got == value
    assert got["big"] == 123456789012345678901234567890


@pytest.mark.parametrize("value", ["nul\u0000inside", {"k\u0000": 1}])
async def test_values_postgres_cannot_store_are_422(client, alice, value):
    r = await client.put("/v1/kv/ns/nul", json={"value": value}, headers=alice.headers)
    assert r.status_code == 422, r.text
    assert r.json()["detail"]


async def test_nul_in_query_is_4xx(client, alice):
    r = await client.get("/v1/kv/ns?prefix=a%00b", headers=alice.headers)
    assert 400 <= r.status_code < 500, r.text
    r = await client.get("/v1/vault/secrets?prefix=a%00b", headers=alice.headers)
    assert 400 <= r.status_code < 500, r.text
