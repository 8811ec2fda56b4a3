"""Storage on SQLite (ENVIRONMENT=dev), operations: `migrate`, KEK rotation from the CLI,
the sweeper, two processes' engines on one file (serialised writers, one audit chain),
and the guards that keep SQLite out of production. Each test has a file of its own."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.conftest import TEST_SECRET, running_client
from unison_devstack.tokens import mint_token
from unison_shared.crypto import Keyring, save_keyring
from unison_storage import cli
from unison_storage.main import create_app

pytestmark = pytest.mark.backends("sqlite")

V = "/v1/vault/secrets"
TABLES = {"kv_records", "memory_entries", "tenant_data_keys", "vault_secrets",
          "vault_versions", "audit_events", "audit_heads", "objects"}


async def fresh_sqlite(tmp_path: Path) -> str:
    """A migrated file of the test's own (Alembic runs its own event loop: a thread)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'storage.db'}"
    await asyncio.to_thread(cli.run_migrations, url)
    return url


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(url.split(":///", 1)[1])
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


async def invoke(args: list[str], env: dict[str, str]) -> Any:
    """The CLI in a thread (it runs its own event loop), with `env` set."""
    return await asyncio.to_thread(CliRunner().invoke, cli.app, args, env=env)


async def test_migrate_creates_the_schema_only_in_dev(tmp_path: Path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    refused = await invoke(["migrate", "--url", url], {"UNISON_ENVIRONMENT": "production"})
    assert refused.exit_code != 0
    assert "SQLite is a development convenience only" in refused.output
    assert not (tmp_path / "m.db").exists()
    for _ in range(2):  # idempotent
        result = await invoke(["migrate", "--url", url], {"UNISON_ENVIRONMENT": "dev"})
        assert result.exit_code == 0, result.output
    names = {r[0] for r in query(url, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert names >= TABLES | {"alembic_version_storage"}
    assert query(url, "SELECT version_num FROM alembic_version_storage") == [("0001",)]
    assert query(url, "PRAGMA journal_mode") == [("wal",)]
    triggers = query(url, "SELECT name FROM sqlite_master WHERE type = 'trigger'")
    assert {t[0] for t in triggers} == {"audit_events_no_update", "audit_events_no_delete"}


async def test_kek_rotation_cli_rewraps_on_sqlite(tmp_path: Path, storage_settings_factory,
                                                  make_caller):
    url = await fresh_sqlite(tmp_path)
    ring_path = tmp_path / "kek.json"
    save_keyring(Keyring.generate(), ring_path)
    settings = storage_settings_factory(database_url=url, kek_keyring_file=ring_path)
    callers = [make_caller(), make_caller()]
    args = ["rotate-kek", "--keyring-file", str(ring_path), "--url", url]
    async with running_client(create_app(settings)) as c:
        for i, caller in enumerate(callers):
            r = await c.put(f"{V}/one", headers=caller.headers, json={"value": f"SQROT-{i}"})
            assert r.status_code == 201
        before = query(url, "SELECT kek_version, wrapped_key FROM tenant_data_keys")
        assert {k for k, _ in before} == {"v1"} and len(before) == 2
        refused = await invoke(args, {"UNISON_ENVIRONMENT": "test"})
        assert "development convenience only" in str(refused.exception)
        result = await invoke(args, {"UNISON_ENVIRONMENT": "dev"})
        assert result.exit_code == 0, result.output
        assert "current KEK version: v2; data keys rewrapped: 2" in result.output
        after = query(url, "SELECT kek_version, wrapped_key FROM tenant_data_keys")
        assert {k for k, _ in after} == {"v2"}
        assert not {w for _, w in after} & {w for _, w in before}
        for i, caller in enumerate(callers):
            assert (await c.get(f"{V}/one", headers=caller.headers)).json()["value"] \
                == f"SQROT-{i}"
    ops = {"Authorization": "Bearer " + mint_token(
        TEST_SECRET, person_id=None, household_id=None, sub="service-ops", type="service",
        roles=["service", "admin"])}
    async with running_client(create_app(settings)) as c:  # a fresh process: new ring
        r = await c.post("/v1/vault/admin/rotate-kek", headers=ops)  # the admin route too
        assert r.status_code == 200, r.text
        assert r.json()["kek_version"] == "v3" and r.json()["rewrapped"] == 2
        for i, caller in enumerate(callers):
            assert (await c.get(f"{V}/one", headers=caller.headers)).json()["value"] \
                == f"SQROT-{i}"
    assert {k for (k,) in query(url, "SELECT kek_version FROM tenant_data_keys")} == {"v3"}
    assert query(url, "SELECT count(*) FROM audit_events WHERE action = 'vault.rotate-kek'"
                 ) == [(1,)]


async def test_sweeper_deletes_expired_rows_in_batches(tmp_path: Path,
                                                       storage_settings_factory, alice):
    from unison_storage.sweeper import sweep_once

    url = await fresh_sqlite(tmp_path)
    app = create_app(storage_settings_factory(database_url=url))
    async with running_client(app) as c:
        h = alice.headers
        for i in range(7):
            await c.post("/v1/memory/sessions/s/entries", headers=h,
                         json={"payload": i, "ttl_seconds": 1})
            await c.put(f"/v1/kv/ns/gone-{i}", headers=h, json={"value": i, "ttl_seconds": 1})
        await c.post("/v1/memory/sessions/s/entries", headers=h,
                      json={"payload": "stays", "ttl_seconds": 600})
        await c.put("/v1/kv/ns/stays", headers=h, json={"value": 1, "ttl_seconds": 600})
        await c.put("/v1/kv/ns/forever", headers=h, json={"value": 1})
        await asyncio.sleep(1.1)
        assert (await c.get("/v1/kv/ns/gone-0", headers=h)).status_code == 404
        totals = await sweep_once(app.state.services, 3)
        assert totals == {"kv_records": 7, "memory_entries": 7}
        assert await sweep_once(app.state.services, 3) == {"kv_records": 0,
                                                            "memory_entries": 0}
        latest = await c.get("/v1/memory/sessions/s/entries/latest", headers=h)
        assert latest.json()["payload"] == "stays"
    assert query(url, "SELECT key FROM kv_records ORDER BY key") == [("forever",), ("stays",)]
    assert query(url, "SELECT count(*) FROM memory_entries") == [(1,)]


async def test_two_processes_on_one_file_serialise_writers(tmp_path: Path,
                                                           storage_settings_factory, alice):
    """Two engines (as two processes would have) write at once: SQLite's one writer lock
    (BEGIN IMMEDIATE, busy_timeout) serialises them; the audit chain stays linear and
    check-and-set has exactly one winner."""
    url = await fresh_sqlite(tmp_path)
    settings = storage_settings_factory(database_url=url)
    h = alice.headers
    async with running_client(create_app(settings)) as a, \
            running_client(create_app(settings)) as b:
        appends = [(a, b)[i % 2].post("/v1/audit", headers=h, json={"action": f"e{i}"})
                   for i in range(30)]
        assert all(r.status_code == 201 for r in await asyncio.gather(*appends))
        verify = (await a.post("/v1/audit/verify", headers=h)).json()
        assert verify["valid"] is True and verify["checked"] == 30
        await a.put("/v1/kv/ns/cas", headers=h, json={"value": 0})
        writes = [(a, b)[i % 2].put("/v1/kv/ns/cas", json={"value": i},
                                    headers={**h, "If-Match": '"1"'}) for i in range(8)]
        codes = sorted(r.status_code for r in await asyncio.gather(*writes))
        assert codes == [200] + [412] * 7


async def test_sensitive_value_read_where_the_namespace_is_plain(tmp_path: Path,
                                                                 storage_settings_factory,
                                                                 alice):
    """A value encrypted while its namespace was sensitive, read by a process where it is
    not: decrypting must reuse the operation's transaction. Opening a second one would
    wait for the first (one pooled connection) until the pool times out."""
    url = await fresh_sqlite(tmp_path)
    writer = create_app(storage_settings_factory(database_url=url))
    reader = create_app(storage_settings_factory(database_url=url).model_copy(update={
        "storage": storage_settings_factory().storage.model_copy(
            update={"kv_sensitive_namespaces": []})}))
    async with running_client(writer) as w, running_client(reader) as r:
        await w.put("/v1/kv/vault/card", headers=alice.headers, json={"value": "tok"})
        got = await asyncio.wait_for(r.get("/v1/kv/vault/card", headers=alice.headers), 10)
        assert got.json()["value"] == "tok"
        listed = await asyncio.wait_for(r.get("/v1/kv/vault", headers=alice.headers), 10)
        assert [i["value"] for i in listed.json()["items"]] == ["tok"]
    assert query(url, "SELECT value IS NULL, value_enc IS NOT NULL FROM kv_records") == [(1, 1)]
