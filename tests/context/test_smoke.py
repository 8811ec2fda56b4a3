async def test_health(client):
    r = await client.get("/healthz")
    assert r.json() == {"status": "ok", "service": "unison-context"}
    r = await client.get("/conversation/health")
    assert r.json() == {"ok": True}
    r = await client.get("/readyz")
    assert r.status_code == 200, r.text


async def test_profile_roundtrip(client, alice):
    pid = alice.person_id
    r = await client.post(f"/profile/{pid}", headers=alice.headers,
                          json={"profile": {"locale": "en", "pin": "1234"}})
    assert r.json() == {"ok": True, "person_id": pid}, r.text
    r = await client.get(f"/profile/{pid}", headers=alice.headers)
    body = r.json()
    assert body["profile"]["locale"] == "en"
    assert body["profile"]["unison_id"] == pid
    assert body["profile"]["pin"] == "***"
