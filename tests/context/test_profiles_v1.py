"""/v1 profiles: replace, merge-patch, If-Match, bounded history, redacted view, PINs."""

from __future__ import annotations


async def _put(client, caller, profile, **headers):
    return await client.put(f"/v1/profiles/{caller.person_id}",
                            headers={**caller.headers, **headers}, json=profile)


async def test_put_get_patch_with_etags(client, alice):
    url = f"/v1/profiles/{alice.person_id}"
    assert (await client.get(url, headers=alice.headers)).status_code == 404
    r = await _put(client, alice, {"locale": "en", "voice": {"wakeword": "hey", "speed": 1}})
    assert r.status_code == 201
    assert r.headers["etag"] == '"1"'
    body = r.json()
    assert body["version"] == 1
    assert body["profile"]["unison_id"] == alice.person_id
    assert body["updated_at"].endswith(("+00:00", "Z"))
    r = await client.patch(url, headers={**alice.headers,
                                         "content-type": "application/merge-patch+json"},
                           content=b'{"voice": {"speed": null, "pitch": 2}, "tz": "UTC"}')
    assert r.status_code == 200, r.text
    assert r.json()["profile"]["voice"] == {"wakeword": "hey", "pitch": 2}
    assert r.json()["profile"]["tz"] == "UTC"
    assert r.json()["version"] == 2
    r = await client.get(url, headers=alice.headers)
    assert r.headers["etag"] == '"2"'
    assert r.json()["profile"]["locale"] == "en"


async def test_if_match(client, alice):
    url = f"/v1/profiles/{alice.person_id}"
    r = await _put(client, alice, {"a": 1}, **{"If-Match": '"1"'})
    assert r.status_code == 412
    assert r.headers["content-type"].startswith("application/problem+json")
    await _put(client, alice, {"a": 1})
    r = await _put(client, alice, {"a": 2}, **{"If-Match": '"7"'})
    assert r.status_code == 412
    r = await _put(client, alice, {"a": 2}, **{"If-Match": '"1"'})
    assert r.status_code == 200
    r = await client.patch(url, headers={**alice.headers, "If-Match": '"1"'}, json={"b": 1})
    assert r.status_code == 412
    r = await client.patch(url, headers={**alice.headers, "If-Match": "*"}, json={"b": 1})
    assert r.status_code == 200
    assert r.json()["profile"]["a"] == 2
    r = await _put(client, alice, {"a": 3}, **{"If-Match": "garbage"})
    assert r.status_code == 412


async def test_history_is_bounded_and_readable(client, alice):
    # CONTEXT_PROFILE_HISTORY_MAX is 5 in the tests.
    for i in range(8):
        assert (await _put(client, alice, {"n": i})).status_code in (200, 201)
    url = f"/v1/profiles/{alice.person_id}/history"
    r = await client.get(url, headers=alice.headers, params={"limit": 3})
    page = r.json()
    assert [i["version"] for i in page["items"]] == [8, 7, 6]
    assert page["items"][0]["profile"]["n"] == 7
    r = await client.get(url, headers=alice.headers,
                         params={"limit": 3, "cursor": page["next_cursor"]})
    rest = r.json()
    assert [i["version"] for i in rest["items"]] == [5, 4]
    assert rest["next_cursor"] is None


async def test_redacted_view_masks_at_any_depth(client, alice):
    await _put(client, alice, {
        "name": "Ada", "password": "p", "nested": {"deep": [{"apiToken": "t",
                                                             "client_secret": "s"}]},
        "faceprint": [1, 2], "voiceprint": "v", "biometrics": {"x": 1}, "authCode": "a",
        "shipping": "kept", "pinned": "kept"})
    r = await client.get(f"/v1/profiles/{alice.person_id}", headers=alice.headers,
                         params={"view": "redacted"})
    p = r.json()["profile"]
    assert r.json()["redacted"] is True
    assert p["name"] == "Ada"
    assert p["password"] == "***"
    assert p["nested"]["deep"][0] == {"apiToken": "***", "client_secret": "***"}
    assert p["faceprint"] == "***"
    assert p["voiceprint"] == "***"
    assert p["biometrics"] == "***"
    assert p["authCode"] == "***"
    assert p["shipping"] == "kept"
    full = (await client.get(f"/v1/profiles/{alice.person_id}", headers=alice.headers)).json()
    assert full["profile"]["password"] == "p"


async def test_pin_hash_and_verify(client, alice, raw_db):
    url = f"/v1/profiles/{alice.person_id}/credentials/verify"
    r = await client.post(url, headers=alice.headers, json={"secret": "1234"})
    assert r.json() == {"valid": False}  # none set yet
    await _put(client, alice, {"security": {"pin": "4817", "passcode": "open sesame"}})
    assert (await client.post(url, headers=alice.headers,
                              json={"secret": "4817"})).json() == {"valid": True}
    assert (await client.post(url, headers=alice.headers,
                              json={"secret": "4818"})).json() == {"valid": False}
    assert (await client.post(url, headers=alice.headers, json={
        "kind": "passcode", "secret": "open sesame"})).json() == {"valid": True}
    hashes = await raw_db.fetch(
        "SELECT kind, hash FROM profile_credentials WHERE person_id = $1", alice.person_id)
    assert {h["kind"] for h in hashes} == {"pin", "passcode"}
    assert all(h["hash"].startswith("$argon2id$") for h in hashes)
    # A read-modify-write sends the mask back: the stored hash is kept.
    got = (await client.get(f"/v1/profiles/{alice.person_id}", headers=alice.headers)).json()
    assert got["profile"]["security"]["pin"] == "***"
    await _put(client, alice, {**got["profile"], "locale": "de"})
    assert (await client.post(url, headers=alice.headers,
                              json={"secret": "4817"})).json() == {"valid": True}
    # Removing the PIN from the profile removes its hash.
    await client.patch(f"/v1/profiles/{alice.person_id}", headers=alice.headers,
                       json={"security": {"pin": None}})
    assert (await client.post(url, headers=alice.headers,
                              json={"secret": "4817"})).json() == {"valid": False}
    assert (await client.post(url, headers=alice.headers, json={
        "kind": "passcode", "secret": "open sesame"})).json() == {"valid": True}


async def test_card_number_refused_on_v1(client, alice):
    r = await _put(client, alice, {"payments": {"instruments": [{"pan": "4111111111111111"}]}})
    assert r.status_code == 422
    body = r.json()
    assert body["field"] == "profile.payments.instruments[0].pan"
    assert "vault" in body["reason"]
    assert "4111111111111111" not in r.text


async def test_dashboard_v1(client, alice):
    url = f"/v1/dashboards/{alice.person_id}"
    assert (await client.get(url, headers=alice.headers)).status_code == 404
    r = await client.put(url, headers=alice.headers,
                         json={"cards": [{"id": 1}, 2], "preferences": {"a": 1}})
    assert r.status_code == 201
    assert r.json()["dashboard"]["cards"] == [{"id": 1}]
    r = await client.patch(url, headers=alice.headers, json={"preferences": {"b": 2}})
    assert r.json()["dashboard"]["preferences"] == {"a": 1, "b": 2}
    assert r.headers["etag"] == '"2"'
    r = await client.patch(url, headers={**alice.headers, "If-Match": '"1"'}, json={"x": 1})
    assert r.status_code == 412
    r = await client.put(url, headers=alice.headers, json={"cards": "no"})
    assert r.status_code == 422
    assert r.json()["field"] == "dashboard.cards"
