"""What a chain alone cannot catch, and signed checkpoints do (storage hardening §2).

Each attack is carried out as the owner role (the operator who runs migrations): the one
role that can switch the audit table's trigger off and write rows directly.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from unison_storage.audit.signing import checkpoint_message


@asynccontextmanager
async def as_owner(url: str, tenant: str) -> AsyncIterator[asyncpg.Connection]:
    """The owner, scoped to `tenant`, with the append-only triggers off for the block."""
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        await conn.execute("SELECT set_config('app.tenant_id', $1, false)", tenant)
        await conn.execute("ALTER TABLE audit_events DISABLE TRIGGER "
                           "audit_events_no_update_delete")
        await conn.execute("ALTER TABLE audit_checkpoints DISABLE TRIGGER "
                           "audit_checkpoints_no_update_delete")
        yield conn
    finally:
        await conn.execute("ALTER TABLE audit_events ENABLE TRIGGER "
                           "audit_events_no_update_delete")
        await conn.execute("ALTER TABLE audit_checkpoints ENABLE TRIGGER "
                           "audit_checkpoints_no_update_delete")
        await conn.close()


async def append(client, caller, n: int) -> list[dict]:
    events = []
    for i in range(n):
        r = await client.post("/v1/audit", json={"action": f"act-{i}"}, headers=caller.headers)
        assert r.status_code == 201, r.text
        events.append(r.json())
    return events


async def verify(client, caller, checkpoint: dict | None = None) -> dict:
    body = {"checkpoint": checkpoint} if checkpoint else None
    r = await client.post("/v1/audit/verify", json=body, headers=caller.headers)
    assert r.status_code == 200, r.text
    return r.json()


async def test_a_checkpoint_signs_the_head_and_its_signature_checks_out(client, alice):
    events = await append(client, alice, 3)
    r = await client.post("/v1/audit/checkpoints", headers=alice.headers)
    assert r.status_code == 201
    cp = r.json()
    assert cp["seq"] == 3 and cp["hash"] == events[-1]["hash"]
    page = (await client.get("/v1/audit/checkpoints", headers=alice.headers)).json()
    assert page["items"] == [cp] and page["key_id"] == cp["key_id"]
    from datetime import datetime

    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(page["public_key"]))
    key.verify(base64.b64decode(cp["signature"]), checkpoint_message(
        alice.household_id, cp["seq"], cp["hash"], datetime.fromisoformat(cp["signed_at"])))
    result = await verify(client, alice, cp)
    assert result["valid"] is True and result["checked"] == 3
    assert result["checkpoints_checked"] == 1


async def test_no_events_no_checkpoint(client, alice):
    assert (await client.post("/v1/audit/checkpoints", headers=alice.headers)).status_code == 404


async def test_a_cut_tail_with_the_head_moved_back_fails_against_a_kept_checkpoint(
        client, alice, storage_db_url):
    await append(client, alice, 4)
    kept = (await client.post("/v1/audit/checkpoints", headers=alice.headers)).json()
    async with as_owner(storage_db_url, alice.household_id) as owner:
        third = await owner.fetchval("SELECT hash FROM audit_events WHERE tenant_id = $1 "
                                     "AND seq = 3", alice.household_id)
        await owner.execute("DELETE FROM audit_events WHERE tenant_id = $1 AND seq = 4",
                            alice.household_id)
        await owner.execute("UPDATE audit_heads SET seq = 3, hash = $2 WHERE tenant_id = $1",
                            alice.household_id, third)
        # A thorough operator removes the stored checkpoints too.
        await owner.execute("DELETE FROM audit_checkpoints WHERE tenant_id = $1",
                            alice.household_id)
    assert (await verify(client, alice))["valid"] is True  # the chain alone is consistent
    result = await verify(client, alice, kept)
    assert result["valid"] is False and "events were removed" in result["reason"]


async def test_a_rewritten_event_with_recomputed_hashes_fails_against_a_checkpoint(
        client, alice, storage_db_url):
    await append(client, alice, 2)
    kept = (await client.post("/v1/audit/checkpoints", headers=alice.headers)).json()
    async with as_owner(storage_db_url, alice.household_id) as owner:
        # Rewrite the last event and recompute its hash (and the head) the way the
        # append function does: the chain stays internally consistent.
        row = await owner.fetchrow("SELECT * FROM audit_events WHERE tenant_id = $1 "
                                   "AND seq = 2", alice.household_id)
        new_hash = await owner.fetchval(
            "SELECT encode(sha256(audit_canonical_v2($1, $2, $3, $4, 'rewritten', $5, $6, "
            "$7, $8, payload::text, created_at, prev_hash)), 'hex') FROM audit_events "
            "WHERE tenant_id = $1 AND seq = $2", alice.household_id, 2, row["id"],
            row["actor"], row["target"], row["decision_id"], row["status"], row["person_id"])
        await owner.execute("UPDATE audit_events SET action = 'rewritten', hash = $2 "
                            "WHERE tenant_id = $1 AND seq = 2", alice.household_id, new_hash)
        await owner.execute("UPDATE audit_heads SET hash = $2 WHERE tenant_id = $1",
                            alice.household_id, new_hash)
    events = (await client.get("/v1/audit", headers=alice.headers)).json()["items"]
    assert events[0]["action"] == "rewritten"
    # The stored checkpoint alone already catches it; so does the kept one.
    for checkpoint in (None, kept):
        result = await verify(client, alice, checkpoint)
        assert result["valid"] is False and result["first_broken_seq"] == 2
        assert "signed checkpoint" in result["reason"]


async def test_a_forged_kept_checkpoint_is_refused(client, alice):
    await append(client, alice, 1)
    cp = (await client.post("/v1/audit/checkpoints", headers=alice.headers)).json()
    for forged in ({**cp, "hash": "0" * 64}, {**cp, "seq": 2}, {**cp, "signature": "AA=="}):
        r = await client.post("/v1/audit/verify", json={"checkpoint": forged},
                              headers=alice.headers)
        assert r.status_code == 422 and r.json()["detail"].startswith("checkpoint:")


async def test_another_tenants_checkpoint_does_not_verify_here(client, alice, bob):
    await append(client, alice, 1)
    await append(client, bob, 1)
    bobs = (await client.post("/v1/audit/checkpoints", headers=bob.headers)).json()
    r = await client.post("/v1/audit/verify", json={"checkpoint": bobs},
                          headers=alice.headers)
    assert r.status_code == 422


async def test_a_row_past_the_head_is_never_served_and_fails_verify(client, alice,
                                                                  storage_db_url):
    await append(client, alice, 2)
    async with as_owner(storage_db_url, alice.household_id) as owner:
        await owner.execute(
            "INSERT INTO audit_events (tenant_id, seq, id, action, created_at, prev_hash, "
            "hash) VALUES ($1, 40, 'planted', 'x', now(), 'y', 'y')", alice.household_id)
    listed = (await client.get("/v1/audit", headers=alice.headers)).json()["items"]
    assert [e["seq"] for e in listed] == [2, 1]
    assert (await client.get("/v1/audit/planted", headers=alice.headers)).status_code == 404
    result = await verify(client, alice)
    assert result["valid"] is False and result["first_broken_seq"] == 40


async def test_a_row_at_the_next_seq_blocks_appends_with_409_until_removed(
        client, alice, storage_db_url):
    await append(client, alice, 1)
    async with as_owner(storage_db_url, alice.household_id) as owner:
        await owner.execute(
            "INSERT INTO audit_events (tenant_id, seq, id, action, created_at, prev_hash, "
            "hash) VALUES ($1, 2, 'squatter', 'x', now(), 'y', 'y')", alice.household_id)
    for _ in range(2):  # the same answer every time, never a 500
        r = await client.post("/v1/audit", json={"action": "blocked"}, headers=alice.headers)
        assert r.status_code == 409 and "blocked at sequence 2" in r.json()["detail"]
    legacy = await client.post("/audit", json={"action": "blocked"}, headers=alice.headers)
    assert legacy.status_code == 409
    assert (await verify(client, alice))["valid"] is False
    async with as_owner(storage_db_url, alice.household_id) as owner:
        await owner.execute("DELETE FROM audit_events WHERE tenant_id = $1 AND id = "
                            "'squatter'", alice.household_id)
    r = await client.post("/v1/audit", json={"action": "after-repair"}, headers=alice.headers)
    assert r.status_code == 201 and r.json()["seq"] == 2
    assert (await verify(client, alice))["valid"] is True


async def test_the_background_pass_signs_each_new_head_once(client, alice, bob, storage_app):
    await append(client, alice, 2)
    await append(client, bob, 1)
    service = storage_app.state.services.checkpoints
    assert await service.sign_new_heads() >= 2
    for caller, seq in ((alice, 2), (bob, 1)):
        items = (await client.get("/v1/audit/checkpoints", headers=caller.headers)).json()
        assert [i["seq"] for i in items["items"]] == [seq]
    await service.sign_new_heads()
    items = (await client.get("/v1/audit/checkpoints", headers=alice.headers)).json()["items"]
    assert len(items) == 1


async def test_the_runtime_role_cannot_change_or_remove_checkpoints(client, alice,
                                                                   storage_db_url):
    from unison_shared.testing import role_url

    await append(client, alice, 1)
    await client.post("/v1/audit/checkpoints", headers=alice.headers)
    conn = await asyncpg.connect(role_url(storage_db_url, "unison_app").replace(
        "postgresql+asyncpg://", "postgresql://", 1))
    try:
        await conn.execute("SELECT set_config('app.tenant_id', $1, false)", alice.household_id)
        for statement in ("UPDATE audit_checkpoints SET hash = 'x'",
                          "DELETE FROM audit_checkpoints", "TRUNCATE audit_checkpoints"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(statement)
    finally:
        await conn.close()
