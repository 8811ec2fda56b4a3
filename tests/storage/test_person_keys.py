"""Per-person data keys (migration 0019): a person's records are sealed under the
person's key (one per tenant key version, wrapped by it), not the tenant key; records
sealed under the tenant key before keep opening; an erasure destroys every version."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from unison_shared.crypto import CryptoError
from unison_shared.errors import PersonErased
from unison_shared.testing import operator_headers
from unison_storage.keys import person_keys as person_key_cache
from unison_storage.keys.service import KeyOwner

from .test_objects import app_client
from .test_person_data import superuser

V = "/v1/vault/secrets"


async def person_keys(postgres: Any, tenant: str, person: str) -> list[int]:
    conn = await superuser(postgres)
    try:
        rows = await conn.fetch("SELECT version FROM person_data_keys WHERE tenant_id = $1 "
                                "AND person_id = $2 ORDER BY version", tenant, person)
        return [r[0] for r in rows]
    finally:
        await conn.close()


async def vault_blob(postgres: Any, tenant: str, person: str, name: str) -> tuple[str, int, bytes]:
    conn = await superuser(postgres)
    try:
        row = await conn.fetchrow(
            "SELECT s.id::text, v.dek_version, v.ciphertext FROM vault_secrets s "
            "JOIN vault_versions v ON v.secret_id = s.id WHERE s.tenant_id = $1 "
            "AND s.person_id = $2 AND s.name = $3 ORDER BY v.version DESC LIMIT 1",
            tenant, person, name)
        assert row is not None
        return row[0], row[1], row[2]
    finally:
        await conn.close()


async def test_a_persons_records_are_sealed_under_their_own_key(
        client, storage_app, make_caller, postgres):
    admin = make_caller(roles=["person", "admin"])
    carol = make_caller(household_id=admin.household_id)
    t = admin.household_id
    await client.put(f"{V}/one", headers=admin.headers, json={"value": "first"})
    await client.put(f"{V}/mine", headers=carol.headers, json={"value": "carol's"})
    assert await person_keys(postgres, t, admin.person_id) == [1]
    assert await person_keys(postgres, t, carol.person_id) == [1]

    keys = storage_app.state.services.keys
    secret_id, dek, blob = await vault_blob(postgres, t, admin.person_id, "one")
    async with storage_app.state.database.in_tenant(t) as conn:
        assert await keys.decrypt(conn, KeyOwner(t, admin.person_id), "vault", secret_id,
                                  dek, blob, 1) == b"first"
        # Not the tenant's key, nor another person's of the same household.
        for owner in (t, KeyOwner(t, carol.person_id)):
            with pytest.raises(CryptoError):
                await keys.decrypt(conn, owner, "vault", secret_id, dek, blob, 1)
        # A record sealed under the tenant key (before person keys) still opens.
        legacy_dek, legacy = await keys.encrypt(conn, t, "vault", "legacy-id", b"old", 1)
        assert await keys.decrypt(conn, KeyOwner(t, admin.person_id), "vault", "legacy-id",
                                  legacy_dek, legacy, 1) == b"old"

    # A tenant key rotation gives the person a new key as they next write.
    r = await client.post("/v1/vault/admin/rotate-data-key", headers=admin.headers)
    assert r.status_code == 200, r.text
    await client.put(f"{V}/two", headers=admin.headers, json={"value": "second"})
    assert await person_keys(postgres, t, admin.person_id) == [1, 2]
    for name, value in (("one", "first"), ("two", "second")):
        got = await client.get(f"{V}/{name}", headers=admin.headers)
        assert got.json()["value"] == value

    r = await client.post(f"/v1/admin/persons/{admin.person_id}/erasure",
                          headers=operator_headers(t))
    assert r.json()["keys_destroyed"] == 2
    assert await person_keys(postgres, t, admin.person_id) == []
    # The blob itself (as a backup taken before would hold it) no longer opens.
    async with storage_app.state.database.in_tenant(t) as conn:
        with pytest.raises(PersonErased):
            await keys.decrypt(conn, KeyOwner(t, admin.person_id), "vault", secret_id,
                               dek, blob, 1)
    got = await client.get(f"{V}/mine", headers=carol.headers)
    assert got.status_code == 200 and got.json()["value"] == "carol's"
    assert await person_keys(postgres, t, carol.person_id) == [1]


async def test_another_replicas_cached_person_key_expires(
        client, storage_settings_factory, make_caller, postgres, monkeypatch):
    """The documented limit, bounded: a replica that did not run the erasure keeps its
    unwrapped copy of the person's key until PERSON_KEY_TTL_SECONDS (shortened here)."""
    monkeypatch.setattr(person_key_cache, "PERSON_KEY_TTL_SECONDS", 1.0)
    alice = make_caller()
    t, p = alice.household_id, alice.person_id
    await client.put(f"{V}/s", headers=alice.headers, json={"value": "held"})
    secret_id, dek, blob = await vault_blob(postgres, t, p, "s")
    async with app_client(storage_settings_factory, {}) as (replica, app):
        got = await replica.get(f"{V}/s", headers=alice.headers)  # caches Alice's key
        assert got.json()["value"] == "held"
        r = await client.post(f"/v1/admin/persons/{p}/erasure", headers=operator_headers(t))
        assert r.status_code == 200
        keys = app.state.services.keys
        async with app.state.database.in_tenant(t) as conn:
            # Within the TTL the replica's copy still opens a copy of the record...
            assert await keys.decrypt(conn, KeyOwner(t, p), "vault", secret_id, dek, blob,
                                      1) == b"held"
            await asyncio.sleep(1.2)
            # ...and after it, nothing does.
            with pytest.raises(PersonErased):
                await keys.decrypt(conn, KeyOwner(t, p), "vault", secret_id, dek, blob, 1)
        assert (await replica.get(f"{V}/s", headers=alice.headers)).status_code == 404
