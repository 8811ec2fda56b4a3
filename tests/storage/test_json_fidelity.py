"""JSON values come back exactly as sent, whatever the domain: big integers included
(JSON and jsonb allow them; a fast encoder that refused them would make a 500)."""

from __future__ import annotations

BIG = 123456789012345678901234567890
VALUE = {"big": BIG, "neg": -BIG, "f": 0.1, "s": "é\u2028", "n": None, "l": [1, [2]]}


async def test_memory_payload_round_trips(client, alice):
    r = await client.post("/v1/memory/sessions/s1/entries", headers=alice.headers,
                          json={"payload": VALUE})
    assert r.status_code == 201, r.text
    got = await client.get("/v1/memory/sessions/s1/entries/latest", headers=alice.headers)
    assert got.json()["payload"] == VALUE
    legacy = await client.post("/memory", headers=alice.headers,
                               json={"session_id": "s2", "data": VALUE})
    assert legacy.json()["ok"] is True
    assert (await client.get("/memory/s2", headers=alice.headers)).json()["data"] == VALUE


async def test_audit_payload_round_trips_and_chain_verifies(client, alice):
    r = await client.post("/v1/audit", headers=alice.headers,
                          json={"action": "x.test", "payload": VALUE})
    assert r.status_code == 201, r.text
    event_id = r.json()["id"]
    got = await client.get(f"/v1/audit/{event_id}", headers=alice.headers)
    assert got.json()["payload"] == VALUE
    verify = await client.post("/v1/audit/verify", headers=alice.headers)
    assert verify.json()["valid"] is True


async def test_kv_legacy_value_round_trips(client, alice):
    await client.put("/kv/vdi_audit/a1", headers=alice.headers, json={"value": VALUE})
    got = await client.get("/kv/vdi_audit/a1", headers=alice.headers)
    assert got.json()["value"] == VALUE
