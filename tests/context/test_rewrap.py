"""KEK rotation: `unison-context rewrap-keys` rewraps every person's data key under the
keyring's new current version; afterwards the old KEK can leave the keyring."""

from __future__ import annotations

import asyncio

import pytest

from unison_shared.crypto import Keyring
from unison_shared.testing import app_client, base_env, running_app

from .conftest import context_settings


@pytest.fixture(scope="session")
def rewrap_db_url(migrated_database):
    return migrated_database("context_rewrap_test", "context")


async def test_rewrap_then_retire_the_old_kek(rewrap_db_url, state_dir, alice, bob, tmp_path):
    from typer.testing import CliRunner

    from unison_context.cli import app as cli
    from unison_context.main import create_app

    def invoke(args):  # the command runs its own event loop: off this one
        return asyncio.to_thread(CliRunner().invoke, cli, args)

    env = base_env(rewrap_db_url, None, state_dir / "rewrap-state")
    old = Keyring.generate()
    new = old.with_new_version()
    async with running_app(create_app, context_settings(
            env, kek_keyring=old.to_json())) as app, app_client(app) as c:
        for caller in (alice, bob):
            r = await c.post(f"/profile/{caller.person_id}", headers=caller.headers,
                             json={"profile": {"who": caller.person_id}})
            assert r.json()["ok"] is True
    ring_file = tmp_path / "kek.json"
    ring_file.write_text(new.to_json())
    args = ["rewrap-keys", "--keyring-file", str(ring_file), "--system-url",
            env["UNISON_DATABASE_SYSTEM_URL"]]
    first = await invoke(args)
    assert first.exit_code == 0, first.output
    assert f"current KEK version: {new.current}; data keys rewrapped: 2" in first.output
    assert f"{new.current}: wraps 2 data key(s)" in first.output
    again = await invoke(args)
    assert "data keys rewrapped: 0" in again.output
    # Only the new KEK in the keyring: every profile still opens.
    only_new = Keyring(current=new.current, keys={new.current: new.keys[new.current]})
    async with running_app(create_app, context_settings(
            env, kek_keyring=only_new.to_json())) as app, app_client(app) as c:
        for caller in (alice, bob):
            r = await c.get(f"/profile/{caller.person_id}", headers=caller.headers)
            assert r.json()["profile"]["who"] == caller.person_id


def test_migrate_command_is_idempotent(postgres):
    from typer.testing import CliRunner

    from unison_context.cli import app as cli

    postgres.drop_database("context_cli_test")
    postgres.ensure_database("context_cli_test")
    url = postgres.url("context_cli_test")
    for _ in range(2):
        result = CliRunner().invoke(cli, ["migrate", "--url", url])
        assert result.exit_code == 0, result.output
        assert "context database migrated to head" in result.output
    tables = postgres.psql("SELECT count(*) FROM pg_tables WHERE tablename IN "
                           "('profiles', 'context_kv', 'conversation_messages')",
                           "context_cli_test")
    assert tables.strip() == "3"
    missing = CliRunner().invoke(cli, ["migrate"], env={"UNISON_DATABASE_URL": ""})
    assert missing.exit_code != 0
