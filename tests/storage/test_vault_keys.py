"""Vault key management: integrity failures (tampering, copied ciphertexts), tenant data
key rotation, and KEK rotation with rewrap (CLI and admin route) in a database of its
own, so rewrapping every tenant cannot disturb the rest of the suite."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from unison_devstack.tokens import mint_token
from unison_shared.crypto import Keyring, save_keyring
from unison_shared.testing import TEST_SECRET, role_url
from unison_storage import cli
from unison_storage.main import create_app

from .conftest import STORAGE_DB, db_settings, fresh_storage_database, running_client

V = "/v1/vault/secrets"
ROTATION_DB = "storage_vault_rotation"


def psql(postgres, sql: str, db: str = STORAGE_DB) -> str:
    return str(postgres.psql(sql, db)).strip()


def version_row(name: str, tenant: str, version: int) -> str:
    return (f"(SELECT v.ctid FROM vault_versions v JOIN vault_secrets s ON s.id = v.secret_id "
            f"WHERE s.tenant_id = '{tenant}' AND s.name = '{name}' AND v.version = {version})")


def ciphertext_of(name: str, tenant: str, version: int) -> str:
    return (f"(SELECT v.ciphertext FROM vault_versions v JOIN vault_secrets s "
            f"ON s.id = v.secret_id WHERE s.tenant_id = '{tenant}' AND s.name = '{name}' "
            f"AND v.version = {version})")


def assert_integrity_error(r: httpx.Response, plaintext: str) -> None:
    assert r.status_code == 500, r.text
    assert r.json()["type"].endswith("/integrity-error")
    assert plaintext not in r.text


async def test_tampered_ciphertext_is_an_integrity_error(client, alice, postgres, caplog):
    caplog.set_level(logging.DEBUG)
    await client.put(f"{V}/tamper", headers=alice.headers, json={"value": "TAMPER-PLAIN"})
    psql(postgres, "UPDATE vault_versions SET ciphertext = set_byte(ciphertext, 20, "
                   "get_byte(ciphertext, 20) # 255) "
                   f"WHERE ctid = {version_row('tamper', alice.household_id, 1)}")
    assert_integrity_error(await client.get(f"{V}/tamper", headers=alice.headers),
                           "TAMPER-PLAIN")
    legacy = await client.get("/vault/tamper", headers=alice.headers)
    assert legacy.status_code == 500
    assert legacy.json() == {"ok": False, "error": "integrity-error"}
    assert any("failed authentication" in r.getMessage() for r in caplog.records)
    assert "TAMPER-PLAIN" not in caplog.text
    statuses = psql(postgres, "SELECT string_agg(status, ',' ORDER BY seq) FROM audit_events "
                              f"WHERE tenant_id = '{alice.household_id}' "
                              "AND action = 'vault.read'")
    # The read's own event (appended with the read, before decryption), then the failure.
    assert statuses == "ok,integrity-error,ok,integrity-error"


async def test_ciphertext_copied_to_another_record_version_or_tenant_fails(
        client, alice, bob, postgres):
    for caller, name, value in ((alice, "a", "COPY-A"), (alice, "b", "COPY-B"),
                                (bob, "a", "COPY-BOB")):
        await client.put(f"{V}/{name}", headers=caller.headers, json={"value": value})
    await client.put(f"{V}/a", headers=alice.headers, json={"value": "COPY-A2"})
    t = alice.household_id
    # Another secret of the same tenant (same data key): the secret id in the AAD differs.
    psql(postgres, f"UPDATE vault_versions SET ciphertext = {ciphertext_of('a', t, 1)} "
                   f"WHERE ctid = {version_row('b', t, 1)}")
    assert_integrity_error(await client.get(f"{V}/b", headers=alice.headers), "COPY-A")
    # An old version replayed as the current one: the version in the AAD differs.
    psql(postgres, f"UPDATE vault_versions SET ciphertext = {ciphertext_of('a', t, 1)} "
                   f"WHERE ctid = {version_row('a', t, 2)}")
    assert_integrity_error(await client.get(f"{V}/a", headers=alice.headers), "COPY-A")
    # Another household's row: different tenant, data key and secret id.
    psql(postgres, f"UPDATE vault_versions SET ciphertext = {ciphertext_of('a', t, 1)} "
                   f"WHERE ctid = {version_row('a', bob.household_id, 1)}")
    assert_integrity_error(await client.get(f"{V}/a", headers=bob.headers), "COPY-A")
    assert (await client.get(f"{V}/a?version=1", headers=alice.headers)).json()["value"] \
        == "COPY-A"


async def test_tenant_data_key_rotation(client, make_caller, postgres):
    admin = make_caller(roles=["person", "admin"])
    member = make_caller(household_id=admin.household_id)
    await client.put(f"{V}/before", headers=admin.headers, json={"value": "old-key"})
    r = await client.post("/v1/vault/admin/rotate-data-key", headers=member.headers)
    assert r.status_code == 403
    r = await client.post("/v1/vault/admin/rotate-data-key", headers=admin.headers)
    assert r.status_code == 200 and r.json() == {"data_key_version": 2}
    await client.put(f"{V}/after", headers=admin.headers, json={"value": "new-key"})
    deks = psql(postgres, "SELECT string_agg(s.name || ':' || v.dek_version, ',' ORDER BY s.name) "
                          "FROM vault_versions v JOIN vault_secrets s ON s.id = v.secret_id "
                          f"WHERE s.tenant_id = '{admin.household_id}'")
    assert deks == "after:2,before:1"
    assert (await client.get(f"{V}/before", headers=admin.headers)).json()["value"] == "old-key"
    assert (await client.get(f"{V}/after", headers=admin.headers)).json()["value"] == "new-key"


@pytest.fixture
def rotation_db(postgres):
    """A fresh database per test: a rewrap touches every tenant's data key, and each test
    brings its own keyring."""
    return fresh_storage_database(postgres, ROTATION_DB)


def app_client(settings) -> Any:
    return running_client(create_app(settings))


async def test_kek_rotation_cli_rewraps_and_secrets_stay_readable(
        rotation_db, storage_settings_factory, make_caller, postgres, tmp_path: Path):
    ring_path = tmp_path / "kek.json"
    save_keyring(Keyring.generate(), ring_path)
    settings = storage_settings_factory(**db_settings(rotation_db), kek_keyring_file=ring_path)
    callers = [make_caller(), make_caller()]
    async with app_client(settings) as c:
        for i, caller in enumerate(callers):
            for name in ("one", "two"):
                r = await c.put(f"{V}/{name}", headers=caller.headers,
                                json={"value": f"ROT-{i}-{name}"})
                assert r.status_code == 201
        before = psql(postgres, "SELECT string_agg(encode(wrapped_key, 'hex'), ',') "
                                "FROM tenant_data_keys", ROTATION_DB).split(",")
        assert len(before) == 2

        result = await asyncio.to_thread(
            CliRunner().invoke, cli.app,
            ["rotate-kek", "--keyring-file", str(ring_path),
             "--url", role_url(rotation_db, "unison_system")])
        assert result.exit_code == 0, result.output
        assert "current KEK version: v2; data keys rewrapped: 2" in result.output

        ring = Keyring.from_json(ring_path.read_text())
        assert ring.current == "v2" and set(ring.keys) == {"v1", "v2"}
        assert stat.S_IMODE(os.stat(ring_path).st_mode) == 0o600
        rows = psql(postgres, "SELECT kek_version || ':' || encode(wrapped_key, 'hex') "
                              "FROM tenant_data_keys", ROTATION_DB).splitlines()
        assert {r.split(":")[0] for r in rows} == {"v2"}
        assert not {r.split(":")[1] for r in rows} & set(before)
        # The process that started with the old keyring keeps serving (its data keys are
        # unwrapped in memory) while replicas reload: no downtime.
        for i, caller in enumerate(callers):
            r = await c.get(f"{V}/one", headers=caller.headers)
            assert r.json()["value"] == f"ROT-{i}-one"

    # A fresh process with the new keyring reads everything back.
    async with app_client(settings) as c:
        for i, caller in enumerate(callers):
            for name in ("one", "two"):
                r = await c.get(f"{V}/{name}", headers=caller.headers)
                assert r.json()["value"] == f"ROT-{i}-{name}"

    # A process that never got the new keyring cannot open rewrapped keys: the reason
    # the rollout distributes the keyring before (or right after) rewrapping.
    old_only = Keyring(current="v1", keys={"v1": ring.keys["v1"]})
    stale = storage_settings_factory(**db_settings(rotation_db), kek_keyring=old_only.to_json())
    async with app_client(stale) as c:
        assert_integrity_error(await c.get(f"{V}/one", headers=callers[0].headers), "ROT-0")


async def test_admin_route_rotates_the_kek(rotation_db, storage_settings_factory, make_caller,
                                           postgres, tmp_path: Path):
    ring_path = tmp_path / "kek.json"
    save_keyring(Keyring.generate(), ring_path)
    settings = storage_settings_factory(**db_settings(rotation_db), kek_keyring_file=ring_path)
    household_admin = make_caller(roles=["person", "admin"])
    ops = {"Authorization": "Bearer " + mint_token(
        TEST_SECRET, person_id=None, household_id=None, sub="service-ops", type="service",
        roles=["service", "admin"])}
    async with app_client(settings) as c:
        await c.put(f"{V}/k", headers=household_admin.headers, json={"value": "ADMIN-ROT"})
        r = await c.post("/v1/vault/admin/rotate-kek", headers=household_admin.headers)
        assert r.status_code == 403
        r = await c.post("/v1/vault/admin/rotate-kek", headers=ops)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["kek_version"] == "v2" and body["rewrapped"] >= 1
        assert Keyring.from_json(ring_path.read_text()).current == "v2"
        tenant = household_admin.household_id
        assert psql(postgres, "SELECT kek_version FROM tenant_data_keys "
                              f"WHERE tenant_id = '{tenant}'", ROTATION_DB) == "v2"
        assert (await c.get(f"{V}/k", headers=household_admin.headers)).json()["value"] \
            == "ADMIN-ROT"
        events = psql(postgres, "SELECT payload::text FROM audit_events "
                                "WHERE action = 'vault.rotate-kek'", ROTATION_DB)
        assert json.loads(events)["kek_version"] == "v2"


async def test_replica_with_cold_cache_reloads_rotated_keyring_file(
        rotation_db, storage_settings_factory, make_caller, tmp_path: Path):
    ring_path = tmp_path / "kek.json"
    save_keyring(Keyring.generate(), ring_path)
    settings = storage_settings_factory(**db_settings(rotation_db), kek_keyring_file=ring_path)
    caller = make_caller()
    async with app_client(settings) as writer, app_client(settings) as replica:
        r = await writer.put(f"{V}/cold", headers=caller.headers, json={"value": "COLD-1"})
        assert r.status_code == 201
        # The replica started with KEK v1 only and has never unwrapped this tenant's key.
        result = await asyncio.to_thread(
            CliRunner().invoke, cli.app,
            ["rotate-kek", "--keyring-file", str(ring_path),
             "--url", role_url(rotation_db, "unison_system")])
        assert result.exit_code == 0, result.output
        r = await replica.get(f"{V}/cold", headers=caller.headers)
        assert r.status_code == 200, r.text
        assert r.json()["value"] == "COLD-1"


async def test_data_key_rotated_by_another_replica_leaves_every_secret_readable(
        client, storage_settings_factory, make_caller):
    admin = make_caller(roles=["person", "admin"])
    await client.put(f"{V}/first", headers=admin.headers, json={"value": "one"})
    async with app_client(storage_settings_factory()) as other_replica:
        r = await other_replica.post("/v1/vault/admin/rotate-data-key", headers=admin.headers)
        assert r.json() == {"data_key_version": 2}
        # This replica may still seal with version 1 for a short while: a valid key.
        await client.put(f"{V}/second", headers=admin.headers, json={"value": "two"})
        await other_replica.put(f"{V}/third", headers=admin.headers, json={"value": "three"})
        for replica in (client, other_replica):
            for name, value in (("first", "one"), ("second", "two"), ("third", "three")):
                got = await replica.get(f"{V}/{name}", headers=admin.headers)
                assert got.json()["value"] == value
