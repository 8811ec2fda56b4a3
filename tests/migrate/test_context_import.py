"""The context importer: a legacy SQLite file with real `p1:` Fernet values, a full
round trip, a second run that imports nothing, and values it cannot use reported."""

from __future__ import annotations

import json
import sqlite3
import uuid

import pytest

from unison_migrate import legacy_crypto
from unison_migrate.context_import import ContextImport
from unison_migrate.runner import import_context
from unison_shared.testing import environ

ROOT = b"legacy-root-secret-0123456789"


def _legacy_file(path, rows):
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE person_profiles (person_id TEXT PRIMARY KEY, profile_json TEXT,
                                      updated_at REAL);
        CREATE TABLE dashboard_state (person_id TEXT PRIMARY KEY, state_json TEXT,
                                      updated_at REAL);
        CREATE TABLE conversation_sessions (person_id TEXT, session_id TEXT,
            messages_json TEXT, response_json TEXT, summary TEXT, updated_at REAL,
            PRIMARY KEY (person_id, session_id));
    """)
    for table, values in rows.items():
        for row in values:
            marks = ", ".join("?" * len(row))
            db.execute(f"INSERT INTO {table} VALUES ({marks})", row)
    db.commit()
    db.close()


@pytest.fixture
def legacy(tmp_path, make_caller):
    home = f"h-{uuid.uuid4().hex[:8]}"
    ada, bo, cy, di, ed = (make_caller(household_id=home) for _ in range(5))
    handles = {ada.person_id: "kh-ada", cy.person_id: "kh-cy", ed.person_id: "kh-ed"}
    ada_profile = {"locale": "en-GB", "voice": {"wakeword": "hey"},
                   "security": {"pin": "2468"}}
    rows = {
        "person_profiles": [
            (ada.person_id, legacy_crypto.encrypt(ROOT, "kh-ada", "profile",
                                                  json.dumps(ada_profile).encode()),
             1700000100.0),
            (bo.person_id, json.dumps({"locale": "de"}), 2.0),  # stored in the clear
            (cy.person_id, "p1:gAAAAAcorrupted-token", 3.0),    # corrupt
            (di.person_id, legacy_crypto.encrypt(ROOT, "kh-di", "profile", b"{}"), 4.0),
            (ed.person_id, legacy_crypto.encrypt(ROOT, "kh-ed", "profile", json.dumps(
                {"payments": {"instruments": [{"card_number": "4111111111111111"}]}}
            ).encode()), 5.0),
        ],
        "dashboard_state": [
            (ada.person_id, legacy_crypto.encrypt(ROOT, "kh-ada", "dashboard", json.dumps(
                {"cards": [{"id": "c1"}, "junk"], "preferences": {"theme": "dark"}}
            ).encode()), 1700000200.0),
            # encrypted under the profile purpose: the dashboard key does not open it
            (cy.person_id, legacy_crypto.encrypt(ROOT, "kh-cy", "profile", b"{}"), 1.0),
        ],
        "conversation_sessions": [
            (ada.person_id, "s1", json.dumps([{"role": "user", "content": "hi"},
                                              {"role": "assistant", "content": "hello"}]),
             json.dumps({"text": "hello"}), "a greeting", 1700000300.0),
            (bo.person_id, "s2", "not json", None, None, 1.0),
        ],
    }
    path = tmp_path / "context.db"
    _legacy_file(path, rows)
    return {"path": path, "home": home, "handles": handles, "ada": ada, "bo": bo, "cy": cy,
            "di": di, "ed": ed}


async def _run(legacy, context_env):
    opts = ContextImport(tenant=legacy["home"], root_secret=ROOT,
                         key_handles=legacy["handles"])
    seen = []
    with environ(context_env):
        report = await import_context(legacy["path"], opts,
                                      progress=lambda t, n: seen.append((t, n)))
    return report, seen


async def test_round_trip_second_run_and_failures(legacy, context_env, context_app,
                                                  context_client):
    report, seen = await _run(legacy, context_env)
    t = report.tables
    assert (t["person_profiles"].imported, t["person_profiles"].failed) == (2, 3)
    assert (t["dashboard_state"].imported, t["dashboard_state"].failed) == (1, 1)
    assert (t["conversation_sessions"].imported,
            t["conversation_sessions"].failed) == (1, 1)
    assert ("person_profiles", 5) in seen  # progress: the total, then one step per row
    assert seen.count(("person_profiles", None)) == 5
    failures = dict(t["person_profiles"].failures)
    cy, di, ed = legacy["cy"], legacy["di"], legacy["ed"]
    assert "cannot decrypt" in failures[f"person {cy.person_id} (person_profiles)"]
    assert "no key_handle" in failures[f"person {di.person_id} (person_profiles)"]
    assert "card numbers" in failures[f"person {ed.person_id}"]
    assert f"person {cy.person_id} (dashboard_state)" in dict(t["dashboard_state"].failures)
    assert "messages_json is not JSON" in dict(
        t["conversation_sessions"].failures)[f"person {legacy['bo'].person_id} session s2"]

    ada, bo = legacy["ada"], legacy["bo"]
    c = context_client
    got = (await c.get(f"/profile/{ada.person_id}", headers=ada.headers)).json()["profile"]
    assert got["locale"] == "en-GB"
    assert got["voice"] == {"wakeword": "hey"}
    assert got["unison_id"] == ada.person_id
    assert got["security"]["pin"] == "***"
    verify = await c.post(f"/v1/profiles/{ada.person_id}/credentials/verify",
                          headers=ada.headers, json={"secret": "2468"})
    assert verify.json() == {"valid": True}
    assert (await c.get(f"/profile/{bo.person_id}", headers=bo.headers)
            ).json()["profile"]["locale"] == "de"
    dash = (await c.get(f"/dashboard/{ada.person_id}", headers=ada.headers)).json()
    assert dash["dashboard"] == {"cards": [{"id": "c1"}], "preferences": {"theme": "dark"}}
    conv = (await c.get(f"/conversation/{ada.person_id}/s1", headers=ada.headers)).json()
    assert [m["content"] for m in conv["messages"]] == ["hi", "hello"]
    # The legacy times are kept.
    assert conv["updated_at"] == 1700000300.0
    assert dash["updated_at"] == 1700000200.0
    legacy_get = (await c.get(f"/profile/{ada.person_id}", headers=ada.headers)).json()
    assert legacy_get["updated_at"] == 1700000100.0
    assert conv["response"] == {"text": "hello"}
    assert conv["summary"] == "a greeting"
    # The failed rows left nothing behind.
    assert (await c.get(f"/profile/{ed.person_id}", headers=ed.headers)
            ).json()["profile"] is None

    again, _ = await _run(legacy, context_env)
    assert again.imported == 0
    assert again.tables["person_profiles"].skipped == 2
    assert again.tables["dashboard_state"].skipped == 1
    assert again.tables["conversation_sessions"].skipped == 1
    assert again.failed == report.failed  # still reported, still not dropped
    assert any("nothing imported" in line for line in again.lines())


def test_derivation_matches_the_documented_scheme():
    import base64
    import hashlib
    import hmac

    from cryptography.fernet import Fernet

    key = base64.urlsafe_b64encode(hmac.new(
        ROOT, b"kh-1\x00unison-context:dashboard", hashlib.sha256).digest())
    value = "p1:" + Fernet(key).encrypt(b'{"a": 1}').decode()
    assert legacy_crypto.decrypt(ROOT, "kh-1", "dashboard", value) == b'{"a": 1}'
    with pytest.raises(legacy_crypto.LegacyDecryptError):
        legacy_crypto.decrypt(ROOT, "kh-1", "profile", value)


def test_cli_reports_per_table_and_exits_2_on_failures(legacy, context_env, context_app,
                                                       tmp_path):
    from typer.testing import CliRunner

    from unison_migrate.cli import app

    secret = tmp_path / "root"
    secret.write_bytes(ROOT)
    handles = tmp_path / "handles.json"
    handles.write_text(json.dumps(legacy["handles"]))
    args = ["context", str(legacy["path"]), "--household", legacy["home"],
            "--root-secret-file", str(secret), "--key-handles", str(handles)]
    with environ(context_env):
        first = CliRunner().invoke(app, args)
        second = CliRunner().invoke(app, args)
    assert first.exit_code == 2, first.output
    assert "person_profiles: imported 2, skipped 0, failed 3" in first.output
    assert "nothing imported" in second.output
    assert "person_profiles: imported 0, skipped 2, failed 3" in second.output
    assert ROOT.decode() not in first.output + second.output


async def test_import_from_the_older_services_postgres_tables(postgres, context_env,
                                                              context_app, context_client,
                                                              make_caller):
    import asyncpg

    name = f"legacy_ctx_{uuid.uuid4().hex[:8]}"
    postgres.ensure_database(name)
    dsn = postgres.url(name, user="postgres", driver="postgresql")
    ada = make_caller()
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("""
            CREATE TABLE person_profiles (person_id text PRIMARY KEY, profile_json text,
                                          updated_at double precision);
            CREATE TABLE conversation_sessions (person_id text, session_id text,
                messages_json text, response_json text, summary text,
                updated_at double precision)""")
        await conn.execute("INSERT INTO person_profiles VALUES ($1, $2, 1.0)", ada.person_id,
                           legacy_crypto.encrypt(ROOT, "kh-pg", "profile", b'{"tz": "UTC"}'))
        await conn.execute("INSERT INTO conversation_sessions VALUES ($1, 's', $2, NULL, "
                           "'sum', 1.0)", ada.person_id, json.dumps([{"content": "x"}]))
    finally:
        await conn.close()
    opts = ContextImport(tenant=ada.household_id, root_secret=ROOT,
                         key_handles={ada.person_id: "kh-pg"})
    with environ(context_env):
        report = await import_context(dsn, opts)
        again = await import_context(dsn, opts)
    assert report.tables["person_profiles"].imported == 1
    assert report.tables["conversation_sessions"].imported == 1
    assert report.tables["dashboard_state"].imported == 0  # no such table: nothing to do
    assert again.imported == 0
    got = await context_client.get(f"/profile/{ada.person_id}", headers=ada.headers)
    assert got.json()["profile"]["tz"] == "UTC"
    conv = await context_client.get(f"/conversation/{ada.person_id}/s", headers=ada.headers)
    assert conv.json()["summary"] == "sum"
