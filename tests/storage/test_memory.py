"""Working memory over HTTP: TTLs (never returned once expired), keyed upserts,
pagination, deletes, isolation, the sweeper, and the legacy paths."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from unison_shared.testing import Caller

S = "/v1/memory/sessions"


def _sid() -> str:
    return f"s-{uuid.uuid4().hex[:8]}"


async def _write(client, caller, session, **body):
    r = await client.post(f"{S}/{session}/entries", json=body, headers=caller.headers)
    assert r.status_code == 201, r.text
    return r.json()


async def test_write_latest_get_and_by_key(client, alice):
    sid = _sid()
    first = await _write(client, alice, sid, payload={"turn": 1})
    second = await _write(client, alice, sid, payload=[1, "two"], key="summary")
    latest = (await client.get(f"{S}/{sid}/entries/latest", headers=alice.headers)).json()
    assert latest["id"] == second["id"] and latest["payload"] == [1, "two"]
    got = await client.get(f"{S}/{sid}/entries/{first['id']}", headers=alice.headers)
    assert got.status_code == 200 and got.json()["payload"] == {"turn": 1}
    by_key = await client.get(f"{S}/{sid}/keys/summary", headers=alice.headers)
    assert by_key.json()["id"] == second["id"]
    assert (await client.get(f"{S}/{sid}/keys/other", headers=alice.headers)).status_code == 404


async def test_keyed_write_replaces_and_becomes_latest(client, alice):
    sid = _sid()
    keyed = await _write(client, alice, sid, payload="v1", key="k")
    await _write(client, alice, sid, payload="later")
    put = await client.put(f"{S}/{sid}/keys/k", json={"payload": "v2"}, headers=alice.headers)
    assert put.status_code == 200 and put.json()["id"] > keyed["id"]
    entries = (await client.get(f"{S}/{sid}/entries", headers=alice.headers)).json()["items"]
    assert [e["payload"] for e in entries] == ["v2", "later"]  # one entry per key
    latest = (await client.get(f"{S}/{sid}/entries/latest", headers=alice.headers)).json()
    assert latest["payload"] == "v2"
    old = await client.get(f"{S}/{sid}/entries/{keyed['id']}", headers=alice.headers)
    assert old.status_code == 404


async def test_concurrent_keyed_writes_leave_one_entry(client, alice):
    sid = _sid()
    results = await asyncio.gather(*[
        client.post(f"{S}/{sid}/entries", json={"payload": i, "key": "same"},
                    headers=alice.headers) for i in range(8)])
    assert all(r.status_code == 201 for r in results)
    items = (await client.get(f"{S}/{sid}/entries", headers=alice.headers)).json()["items"]
    assert len(items) == 1


async def test_expired_entry_is_never_returned(client, alice):
    sid = _sid()
    older = await _write(client, alice, sid, payload="lives", ttl_seconds=60)
    short = await _write(client, alice, sid, payload="brief", key="k", ttl_seconds=1)
    legacy = (await client.get(f"/memory/{sid}", headers=alice.headers)).json()
    assert legacy == {"ok": True, "data": "brief"}
    await asyncio.sleep(1.2)
    h = alice.headers
    assert (await client.get(f"{S}/{sid}/entries/{short['id']}", headers=h)).status_code == 404
    assert (await client.get(f"{S}/{sid}/keys/k", headers=h)).status_code == 404
    latest = (await client.get(f"{S}/{sid}/entries/latest", headers=h)).json()
    assert latest["id"] == older["id"]  # the newest *live* entry
    items = (await client.get(f"{S}/{sid}/entries", headers=h)).json()["items"]
    assert [e["payload"] for e in items] == ["lives"]
    assert (await client.delete(f"{S}/{sid}/keys/k", headers=h)).status_code == 404


async def test_legacy_reports_expired_then_not_found(client, alice):
    sid = _sid()
    r = await client.post("/memory", json={"session_id": sid, "data": {"a": 1}, "ttl": 0.5},
                          headers=alice.headers)
    assert r.json() == {"ok": True, "session_id": sid}
    assert (await client.get(f"/memory/{sid}", headers=alice.headers)).json() == {
        "ok": True, "data": {"a": 1}}
    await asyncio.sleep(1.2)
    r = await client.get(f"/memory/{sid}", headers=alice.headers)
    assert r.status_code == 200 and r.json() == {"ok": False, "error": "expired"}
    assert (await client.get(f"{S}/{sid}/entries/latest",
                             headers=alice.headers)).status_code == 404
    r = await client.get(f"/memory/{_sid()}", headers=alice.headers)
    assert r.status_code == 200 and r.json() == {"ok": False, "error": "not-found"}


async def test_default_and_keyspace_ttls(storage_settings_factory, alice):
    import httpx

    from unison_storage.main import create_app

    settings = storage_settings_factory()
    settings.storage.memory_default_ttl_seconds = 120
    settings.storage.memory_keyspace_ttls = {"scratch": 1, "long": 3600}
    settings.storage.memory_max_ttl_seconds = 7200
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://s") as c:
            sid = _sid()

            async def lifetime(**body):
                e = await _write(c, alice, sid, payload=1, **body)
                from datetime import datetime
                return (datetime.fromisoformat(e["expires_at"])
                        - datetime.fromisoformat(e["created_at"])).total_seconds()

            assert await lifetime() == 120
            assert await lifetime(keyspace="long") == 3600
            assert await lifetime(keyspace="long", ttl_seconds=5) == 5
            scratch = await _write(c, alice, sid, payload="tmp", keyspace="scratch", key="t")
            too_long = await c.post(f"{S}/{sid}/entries", json={"payload": 1,
                                                                "ttl_seconds": 7201},
                                    headers=alice.headers)
            assert too_long.status_code == 422 and "ttl_seconds" in too_long.json()["detail"]
            await asyncio.sleep(1.2)
            gone = await c.get(f"{S}/{sid}/entries/{scratch['id']}", headers=alice.headers)
            assert gone.status_code == 404


async def test_pagination_newest_first(client, alice):
    sid = _sid()
    ids = [(await _write(client, alice, sid, payload=i))["id"] for i in range(7)]
    seen, cursor = [], None
    while True:
        url = f"{S}/{sid}/entries?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = (await client.get(url, headers=alice.headers)).json()
        assert len(page["items"]) <= 3
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ids[::-1]


async def test_delete_entry_and_session(client, alice):
    sid = _sid()
    a = await _write(client, alice, sid, payload="a")
    await _write(client, alice, sid, payload="b")
    await _write(client, alice, sid, payload="c", key="c")
    h = alice.headers
    assert (await client.delete(f"{S}/{sid}/entries/{a['id']}", headers=h)).status_code == 204
    assert (await client.delete(f"{S}/{sid}/entries/{a['id']}", headers=h)).status_code == 404
    assert (await client.delete(f"{S}/{sid}/keys/c", headers=h)).status_code == 204
    r = await client.delete(f"{S}/{sid}", headers=h)
    assert r.status_code == 200 and r.json() == {"deleted": 1}
    assert (await client.get(f"{S}/{sid}/entries", headers=h)).json()["items"] == []
    legacy_sid = _sid()
    await client.post("/memory", json={"session_id": legacy_sid, "data": 1}, headers=h)
    r = await client.delete(f"/memory/{legacy_sid}", headers=h)
    assert r.json() == {"ok": True}
    assert (await client.get(f"/memory/{legacy_sid}", headers=h)).json()["error"] == "not-found"


async def test_tenant_and_person_isolation(client, alice, bob, make_caller):
    sid = _sid()
    entry = await _write(client, alice, sid, payload="alice", key="k")
    for path in (f"{S}/{sid}/entries/{entry['id']}", f"{S}/{sid}/keys/k",
                 f"{S}/{sid}/entries/latest"):
        assert (await client.get(path, headers=bob.headers)).status_code == 404
    assert (await client.get(f"{S}/{sid}/entries", headers=bob.headers)).json()["items"] == []
    assert (await client.get(f"/memory/{sid}", headers=bob.headers)).json()["error"] == \
        "not-found"
    assert (await client.delete(f"{S}/{sid}/entries/{entry['id']}",
                                headers=bob.headers)).status_code == 404
    assert (await client.delete(f"{S}/{sid}", headers=bob.headers)).json() == {"deleted": 0}
    await client.delete(f"/memory/{sid}", headers=bob.headers)
    # Bob's session with the same id is his own.
    await _write(client, bob, sid, payload="bob", key="k")
    housemate = make_caller(household_id=alice.household_id)
    workload = Caller(None, alice.household_id, principal_kind="workload")
    assert (await client.get(f"{S}/{sid}/keys/k", headers=housemate.headers)).status_code == 404
    assert (await client.get(f"{S}/{sid}/keys/k", headers=workload.headers)).status_code == 404
    mine = await client.get(f"{S}/{sid}/keys/k", headers=alice.headers)
    assert mine.json()["payload"] == "alice"
    assert (await client.get(f"{S}/{sid}/keys/k", headers=bob.headers)).json()["payload"] == "bob"


@pytest.mark.parametrize(("method", "path", "body", "status"), [
    ("post", "/entries", {"key": "k"}, 422),
    ("post", "/entries", {"payload": 1, "ttl_seconds": 0}, 422),
    ("post", "/entries", {"payload": 1, "ttl_seconds": 10**9}, 422),
    ("post", "/entries", {"payload": 1, "keyspace": "bad space"}, 422),
    ("post", "/entries", {"payload": 1, "key": "bad\tkey"}, 422),
    ("post", "/entries", {"payload": {"s": "nul\u0000"}}, 422),
    ("post", "/entries", {"payload": {"\ud800": "lone surrogate"}}, 422),
    ("post", "/entries", {"payload": 1, "key": "\udfff"}, 422),
    ("post", "/entries", {"payload": "x" * (1024 * 1024 + 1)}, 413),
    ("get", "/entries?limit=0", None, 422),
    ("get", "/entries?limit=1001", None, 422),
    ("get", "/entries?cursor=%%%", None, 400),
    ("get", "/entries?cursor=bTp4", None, 400),
    ("get", "/entries/abc", None, 422),
    ("get", "/entries/0", None, 422),
])
async def test_bad_input_is_4xx_with_reason(client, alice, method, path, body, status):
    # Sent as ASCII-escaped JSON so lone surrogates reach the server intact.
    raw = json.dumps(body) if body is not None else None
    r = await client.request(method.upper(), f"{S}/{_sid()}{path}", content=raw,
                             headers={**alice.headers, "content-type": "application/json"})
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["detail"]


@pytest.mark.parametrize(("body", "error"), [
    ({"data": 1}, "missing-session_id"),
    ({"session_id": "", "data": 1}, "missing-session_id"),
    ({"session_id": "s"}, "missing-data"),
    ({"session_id": "s", "data": None}, "missing-data"),
    ({"session_id": "s", "data": 1, "ttl": -5}, "invalid-ttl"),
    ({"session_id": "s", "data": 1, "ttl_seconds": "soon"}, "invalid-ttl"),
    ({"session_id": "s", "data": 1, "ttl": 10**12}, "invalid-ttl"),
    ({"session_id": 5, "data": 1}, "invalid-session_id"),
])
async def test_legacy_write_rejects_bad_bodies_with_400(client, alice, body, error):
    r = await client.post("/memory", json=body, headers=alice.headers)
    assert r.status_code == 400
    assert r.json()["ok"] is False and r.json()["error"] == error


async def test_legacy_ttl_seconds_and_shared_sessions(client, alice):
    sid = _sid()
    r = await client.post("/memory", json={"session_id": sid, "data": "x", "ttl_seconds": 30},
                          headers=alice.headers)
    assert r.json() == {"ok": True, "session_id": sid}
    latest = (await client.get(f"{S}/{sid}/entries/latest", headers=alice.headers)).json()
    assert latest["payload"] == "x"
    await _write(client, alice, sid, payload="newer")
    assert (await client.get(f"/memory/{sid}", headers=alice.headers)).json()["data"] == "newer"
