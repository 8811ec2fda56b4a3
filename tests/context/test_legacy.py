"""Every legacy context route of contract.md, with its shapes and codes."""

from __future__ import annotations

import time

import pytest


async def test_health_routes_are_public_and_reveal_nothing(client, context_db_url):
    assert (await client.get("/health")).json() == {"status": "ok",
                                                    "service": "unison-context"}
    assert (await client.get("/healthz")).json() == {"status": "ok",
                                                     "service": "unison-context"}
    health = await client.get("/conversation/health")
    assert health.status_code == 200
    assert health.json() == {"ok": True}
    assert "postgres" not in health.text
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["ready"] is True
    assert (await client.get("/ready")).json()["ready"] is True
    metrics = await client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")


async def test_missing_token_is_401_and_foreign_person_403(client, alice, bob):
    r = await client.get(f"/profile/{alice.person_id}")
    assert r.status_code == 401
    assert "detail" in r.json()
    r = await client.get(f"/profile/{alice.person_id}", headers=bob.headers)
    assert r.status_code == 403


async def test_profile_replace_read_and_redacted(client, alice):
    pid = alice.person_id
    before = time.time()
    profile = {"locale": "fr-FR", "language": "fr", "voice": {"wakeword": "unison"},
               "dashboard": {"preferences": {"theme": "dark"}},
               "security": {"passcode": "correct horse", "auth_token": "tok-123"},
               "payments": {"instruments": [{"instrument_id": "i1", "provider": "stripe",
                                             "kind": "card", "brand": "visa",
                                             "last4": "4242", "expiry": "12/30",
                                             "vault_key": "payment:p:i1",
                                             "nickname": "dropped"}]}}
    headers = {**alice.headers, "x-test-role": "admin"}
    r = await client.post(f"/profile/{pid}", headers=headers, json={"profile": profile,
                                                                  "extra": 1})
    assert r.status_code == 200
    assert r.json() == {"ok": True, "person_id": pid}
    r = await client.get(f"/profile/{pid}", headers=headers)
    body = r.json()
    assert body["ok"] is True
    got = body["profile"]
    assert got["unison_id"] == pid
    assert got["locale"] == "fr-FR"
    assert got["voice"]["wakeword"] == "unison"
    assert got["dashboard"]["preferences"] == {"theme": "dark"}
    assert got["security"]["passcode"] == "***"  # only its hash is kept
    assert got["payments"]["instruments"][0] == {
        "instrument_id": "i1", "provider": "stripe", "kind": "card", "brand": "visa",
        "last4": "4242", "expiry": "12/30", "vault_key": "payment:p:i1"}
    redacted = body["profile_redacted"]
    assert redacted["security"]["auth_token"] == "***"
    assert redacted["locale"] == "fr-FR"
    assert isinstance(body["updated_at"], float)
    assert body["updated_at"] >= before - 5


async def test_profile_absent_and_unison_id_kept(client, alice):
    pid = alice.person_id
    r = await client.get(f"/profile/{pid}", headers=alice.headers)
    assert r.json() == {"ok": True, "profile": None, "profile_redacted": {},
                        "updated_at": None}
    await client.post(f"/profile/{pid}", headers=alice.headers,
                      json={"profile": {"unison_id": "u-custom"}})
    r = await client.get(f"/profile/{pid}", headers=alice.headers)
    assert r.json()["profile"]["unison_id"] == "u-custom"


@pytest.mark.parametrize(("body", "field"), [
    ({"profile": [1]}, "profile"),
    ({}, "profile"),
    ({"profile": {"payments": {"instruments": [{"card_number": "4242424242424242"}]}}},
     "profile.payments.instruments[0].card_number"),
    ({"profile": {"payments": {"instruments": [{"token": "tok_abc"}]}}},
     "profile.payments.instruments[0].token"),
    ({"profile": {"payments": {"instruments": [{"display_name": "4242 4242 4242 4242"}]}}},
     "profile.payments.instruments[0].display_name"),
    ({"profile": {"payments": {"instruments": [{"last4": "42"}]}}},
     "profile.payments.instruments[0].last4"),
    ({"profile": {"payments": "x"}}, "profile.payments"),
    ({"profile": {"payments": {"default": {"provider_token": "tok_1"}}}},
     "profile.payments.default.provider_token"),
    ({"profile": {"pin": {"a": 1}}}, "profile.pin"),
])
async def test_profile_refused_with_reason(client, alice, body, field):
    r = await client.post(f"/profile/{alice.person_id}", headers=alice.headers, json=body)
    assert r.status_code == 400
    assert r.json()["ok"] is False
    assert r.json()["error"] == "invalid-profile"
    assert r.json()["field"] == field
    # nothing was stored
    got = await client.get(f"/profile/{alice.person_id}", headers=alice.headers)
    assert got.json()["profile"] is None


async def test_card_number_never_stored(client, alice, raw_db):
    pid = alice.person_id
    await client.post(f"/profile/{pid}", headers=alice.headers, json={"profile": {
        "payments": {"instruments": [{"number": "4111111111111111"}]}}})
    rows = await raw_db.fetch("SELECT 1 FROM profiles WHERE person_id = $1", pid)
    assert rows == []


async def test_dashboard_rules(client, alice):
    pid = alice.person_id
    r = await client.get(f"/dashboard/{pid}", headers=alice.headers)
    assert r.json() == {"ok": True, "dashboard": None, "updated_at": None}
    cards = [{"id": i} for i in range(120)] + ["not-a-card", 3]
    r = await client.post(f"/dashboard/{pid}", headers=alice.headers, json={"dashboard": {
        "cards": ["x", *cards], "preferences": {"layout": "grid"}, "extra": True}})
    assert r.json() == {"ok": True, "person_id": pid}
    got = (await client.get(f"/dashboard/{pid}", headers=alice.headers)).json()
    assert got["ok"] is True
    assert len(got["dashboard"]["cards"]) == 100
    assert got["dashboard"]["cards"][0] == {"id": 0}
    assert all(isinstance(c, dict) for c in got["dashboard"]["cards"])
    assert got["dashboard"]["preferences"] == {"layout": "grid"}
    assert got["dashboard"]["extra"] is True
    assert isinstance(got["updated_at"], float)


@pytest.mark.parametrize(("body", "code", "field"), [
    ({"dashboard": {"cards": "nope"}}, "invalid-dashboard-cards", "dashboard.cards"),
    ({"dashboard": {"cards": {"a": 1}}}, "invalid-dashboard-cards", "dashboard.cards"),
    ({"dashboard": "x"}, "invalid-dashboard", "dashboard"),
    ({}, "invalid-dashboard", "dashboard"),
    ({"dashboard": {"preferences": []}}, "invalid-dashboard", "dashboard.preferences"),
])
async def test_dashboard_refused(client, alice, body, code, field):
    r = await client.post(f"/dashboard/{alice.person_id}", headers=alice.headers, json=body)
    assert r.status_code == 400
    assert r.json() == {"ok": False, "error": code, "field": field,
                        "reason": r.json()["reason"]}


async def test_conversation_post_replaces_and_get(client, alice):
    pid, sid = alice.person_id, "s-1"
    r = await client.get(f"/conversation/{pid}/{sid}", headers=alice.headers)
    assert r.json() == {"messages": []}
    first = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    r = await client.post(f"/conversation/{pid}/{sid}", headers=alice.headers, json={
        "messages": first, "response": {"text": "hello"}, "summary": "greeting",
        "ignored": 1})
    assert r.json() == {"ok": True, "event_id": f"{pid}:{sid}"}
    got = (await client.get(f"/conversation/{pid}/{sid}", headers=alice.headers)).json()
    assert got["messages"] == first
    assert got["response"] == {"text": "hello"}
    assert got["summary"] == "greeting"
    assert isinstance(got["updated_at"], float)
    second = [{"role": "user", "content": "only this"}]
    await client.post(f"/conversation/{pid}/{sid}", headers=alice.headers,
                      json={"messages": second, "response": {"text": "ok"}, "summary": "s2"})
    got = (await client.get(f"/conversation/{pid}/{sid}", headers=alice.headers)).json()
    assert got["messages"] == second
    assert got["summary"] == "s2"


async def test_kv_put_get_and_export(client, alice):
    pid = alice.person_id
    r = await client.post("/kv/put", headers={**alice.headers, "X-Event-ID": "ev-1"}, json={
        "person_id": pid, "tier": "B",
        "items": {f"{pid}:profile:name": {"first": "Ada"}, f"{pid}:profile:lang": "en"}})
    assert r.json() == {"ok": True, "event_id": "ev-1", "count": 2}
    r = await client.post("/kv/put", headers=alice.headers, json={
        "person_id": pid, "tier": "A", "items": {f"{pid}:recent": [1, 2]}})
    assert r.json()["ok"] is True
    assert r.json()["count"] == 1
    r = await client.post("/kv/get", headers=alice.headers, json={
        "keys": [f"{pid}:profile:name", f"{pid}:recent", f"{pid}:missing"]})
    body = r.json()
    assert body["ok"] is True
    assert body["values"] == {f"{pid}:profile:name": {"first": "Ada"},
                              f"{pid}:recent": [1, 2], f"{pid}:missing": None}
    assert body["event_id"]
    r = await client.post("/profile.export", headers=alice.headers, json={"person_id": pid})
    body = r.json()
    assert body["ok"] is True
    assert body["person_id"] == pid
    assert isinstance(body["exported_at"], float)
    assert body["items"] == {f"{pid}:profile:name": {"first": "Ada"},
                             f"{pid}:profile:lang": "en"}


async def test_kv_set_is_durable(client, alice, context_app, context_env):
    from tests.context.conftest import context_settings
    from unison_context.main import create_app
    from unison_shared.testing import app_client, running_app

    r = await client.post("/kv/set", headers=alice.headers,
                          json={"key": "workflow:42", "value": {"step": 3}})
    assert r.json()["ok"] is True
    assert r.json()["event_id"]
    # A second process (a restart) reads it back from PostgreSQL.
    async with running_app(create_app, context_settings(context_env)) as other, \
            app_client(other) as c2:
        r = await c2.post("/kv/get", headers=alice.headers, json={"keys": ["workflow:42"]})
    assert r.json()["values"] == {"workflow:42": {"step": 3}}


@pytest.mark.parametrize(("body", "code", "field"), [
    ({"tier": "A", "items": {"x": 1}}, "invalid-person_id", "person_id"),
    ({"person_id": "{pid}", "tier": "D", "items": {"{pid}:x": 1}}, "invalid-tier", "tier"),
    ({"person_id": "{pid}", "tier": "A", "items": []}, "invalid-items", "items"),
    ({"person_id": "{pid}", "tier": "A", "items": {}}, "invalid-items", "items"),
    ({"person_id": "{pid}", "tier": "A", "items": {"other:x": 1}}, "invalid-namespace",
     "items.other:x"),
    ({"person_id": "{pid}", "tier": "B", "items": {"{pid}:x": 1}}, "tier-mismatch",
     "items.{pid}:x"),
])
async def test_kv_put_refused(client, alice, body, code, field):
    pid = alice.person_id

    def fill(v):
        if isinstance(v, str):
            return v.replace("{pid}", pid)
        if isinstance(v, dict):
            return {fill(k): fill(x) for k, x in v.items()}
        return v

    r = await client.post("/kv/put", headers=alice.headers, json=fill(body))
    assert r.status_code == 400
    assert r.json()["ok"] is False
    assert r.json()["error"] == code
    assert r.json()["field"] == fill(field)


async def test_legacy_bodies_that_are_not_objects(client, alice):
    for path in ("/kv/put", "/kv/get", "/kv/set", "/profile.export",
                 f"/profile/{alice.person_id}", f"/dashboard/{alice.person_id}",
                 f"/conversation/{alice.person_id}/s"):
        r = await client.post(path, headers=alice.headers, content=b"[1, 2]")
        assert r.status_code == 400, path
        assert r.json()["ok"] is False
        assert r.json()["field"] == "body"
        r = await client.post(path, headers=alice.headers, content=b"{not json")
        assert r.status_code == 400, path
        assert r.json()["error"] == "invalid-json"
