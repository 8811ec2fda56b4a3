"""Storage on SQLite (ENVIRONMENT=dev): what the PostgreSQL-only tests check through
PostgreSQL itself, checked here through the SQLite file itself (the file's owner can do
anything a PostgreSQL superuser can).

The functional suites (kv, memory, vault, audit, objects, ...) already run on SQLite
through the `backends` marker; this module covers the rest: no plaintext secret in the
file, the audit triggers and a tampered chain, the vault's rows, tenant isolation across
every domain, and readiness.
"""

from __future__ import annotations

import base64
import json
import logging
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

pytestmark = pytest.mark.backends("sqlite")

V = "/v1/vault/secrets"


def db_path(url: str) -> Path:
    return Path(url.split(":///", 1)[1])


@contextmanager
def owner(url: str) -> Iterator[sqlite3.Connection]:
    """The file opened directly, as its owner: no service, no tenant filter."""
    con = sqlite3.connect(db_path(url), isolation_level=None, timeout=10)
    try:
        yield con
    finally:
        con.close()


def needles(plain: str) -> list[bytes]:
    raw = plain.encode()
    return [raw, raw.hex().encode(), base64.b64encode(raw).rstrip(b"=")]


def file_hits(url: str, plain: str) -> list[str]:
    """Files (database, WAL) whose raw bytes contain the plaintext in any encoding."""
    base = db_path(url)
    found = []
    for path in (base, base.with_name(base.name + "-wal")):
        data = path.read_bytes() if path.exists() else b""
        found += [path.name for n in needles(plain) if n in data]
    return found


def column_hits(url: str, plain: str) -> dict[str, int]:
    """Rows per table with any column (text, or blob raw and hex) holding the plaintext."""
    hits: dict[str, int] = {}
    with owner(url) as con:
        tables = [r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_%'")]
        for table in tables:
            for row in con.execute(f'SELECT * FROM "{table}"'):
                blob = b"|".join(v if isinstance(v, bytes) else str(v).encode() for v in row)
                blob += blob.hex().encode()
                if any(n in blob for n in needles(plain)):
                    hits[table] = hits.get(table, 0) + 1
    return hits


async def test_no_vault_secret_in_plain_text_in_the_file(client, alice, sqlite_db_url,
                                                         caplog):
    caplog.set_level(logging.DEBUG)
    tag = uuid.uuid4().hex[:12]
    v1, v2, legacy, card = (f"sq-one-{tag}", f"sq-two-ünï-{tag}", f"sq-legacy-{tag}",
                            f"tok_SQ{tag}")
    name, h = f"sq-name-{tag}", alice.headers
    assert (await client.put(f"{V}/{name}", headers=h, json={"value": v1})).status_code == 201
    await client.put(f"{V}/{name}", headers=h, json={"value": v2})
    assert (await client.get(f"{V}/{name}?version=1", headers=h)).json()["value"] == v1
    await client.get(f"{V}/{name}/metadata", headers=h)
    legacy_id = (await client.post("/vault", headers=h,
                                   json={"cipher_text": legacy})).json()["key_id"]
    assert (await client.get(f"/vault/{legacy_id}", headers=h)).json()["cipher_text"] == legacy
    kv_path = f"/kv/vault/payment:{alice.person_id}:card1"
    assert (await client.put(kv_path, headers=h, json={"value": {"token": card}})).json()["ok"]
    assert (await client.get(kv_path, headers=h)).json()["value"] == {"token": card}
    # Positive controls: the scans find what is stored in clear on purpose.
    control = f"sq-control-{tag}"
    await client.put("/kv/prefs/control", headers=h, json={"value": {"v": control}})
    assert column_hits(sqlite_db_url, name).get("vault_secrets") == 1
    assert column_hits(sqlite_db_url, control) == {"kv_records": 1}
    assert file_hits(sqlite_db_url, control)
    for plain in (v1, v2, legacy, card):
        assert column_hits(sqlite_db_url, plain) == {}, plain
        assert file_hits(sqlite_db_url, plain) == [], plain
        assert plain not in caplog.text


async def test_vault_rows_pruned_destroyed_and_audited_without_the_value(
        client, alice, sqlite_db_url):
    t, h = alice.household_id, alice.headers
    for i in range(1, 5):
        await client.put(f"{V}/rot", headers=h, json={"value": f"SQV{i}", "max_versions": 3})
    r = await client.post(f"{V}/rot/destroy", headers=h, json={"versions": [3]})
    assert r.json() == {"name": "rot", "destroyed": [3]}
    await client.get(f"{V}/missing", headers=h)
    with owner(sqlite_db_url) as con:
        rows = con.execute(
            "SELECT v.version, v.ciphertext IS NULL, v.destroyed_at IS NOT NULL "
            "FROM vault_versions v JOIN vault_secrets s ON s.id = v.secret_id "
            "WHERE s.tenant_id = ? ORDER BY v.version", (t,)).fetchall()
        events = con.execute("SELECT action, status, payload FROM audit_events "
                             "WHERE tenant_id = ? ORDER BY seq", (t,)).fetchall()
    assert rows == [(2, 0, 0), (3, 1, 1), (4, 0, 0)]
    assert [(a, s) for a, s, _ in events] == [("vault.write", "ok")] * 4 + [
        ("vault.destroy", "ok"), ("vault.read", "not-found")]
    assert json.loads(events[4][2]) == {"versions": [3]}
    assert not any("SQV" in p for _, _, p in events)


@pytest.mark.parametrize("statement", [
    "UPDATE audit_events SET action = 'forged' WHERE tenant_id = ?",
    "DELETE FROM audit_events WHERE tenant_id = ?",
    "DELETE FROM audit_events",
])
async def test_audit_triggers_reject_changes_even_for_the_owner(client, alice, sqlite_db_url,
                                                                statement):
    r = await client.post("/v1/audit", headers=alice.headers, json={"action": "keep-me"})
    assert r.status_code == 201
    with owner(sqlite_db_url) as con, pytest.raises(sqlite3.DatabaseError,
                                                    match="append-only"):
        con.execute(statement, (alice.household_id,) if "?" in statement else ())
    events = (await client.get("/v1/audit", headers=alice.headers)).json()["items"]
    assert [e["action"] for e in events] == ["keep-me"]


def _bypass_triggers(url: str, statement: str, params: tuple[object, ...]) -> None:
    """What only the file's owner can do: drop the triggers, change the chain, put the
    triggers back, in one transaction."""
    with owner(url) as con:
        triggers = con.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                               "AND tbl_name = 'audit_events'").fetchall()
        assert len(triggers) == 2
        con.execute("BEGIN IMMEDIATE")
        for trigger, _ in triggers:
            con.execute(f"DROP TRIGGER {trigger}")
        con.execute(statement, params)
        for _, sql in triggers:
            con.execute(sql)
        con.execute("COMMIT")


async def test_verify_reports_a_tampered_and_a_deleted_event(client, alice, bob,
                                                             sqlite_db_url):
    for caller in (alice, bob):
        for i in range(5):
            r = await client.post("/v1/audit", headers=caller.headers,
                                  json={"action": f"step-{i}", "payload": {"n": 10**30}})
            assert r.status_code == 201
    assert (await client.post("/v1/audit/verify", headers=alice.headers)).json() == {
        "valid": True, "checked": 5, "first_broken_seq": None, "reason": None}
    _bypass_triggers(sqlite_db_url, "UPDATE audit_events SET action = 'x' "
                     "WHERE tenant_id = ? AND seq = 3", (alice.household_id,))
    result = (await client.post("/v1/audit/verify", headers=alice.headers)).json()
    assert result["valid"] is False and result["first_broken_seq"] == 3
    assert result["checked"] == 2 and "hash" in result["reason"]
    _bypass_triggers(sqlite_db_url, "DELETE FROM audit_events WHERE tenant_id = ? AND seq = 5",
                     (bob.household_id,))
    result = (await client.post("/v1/audit/verify", headers=bob.headers)).json()
    assert result["valid"] is False and result["first_broken_seq"] == 5
    assert "missing" in result["reason"]


async def test_tenants_and_persons_are_isolated_in_every_domain(client, alice, bob,
                                                                make_caller):
    """No row-level security on SQLite: the repositories' tenant and person filters are
    the only fence, so every domain is tried with the same names for three callers."""
    carol = make_caller(household_id=alice.household_id)  # alice's household, not alice
    callers = {"alice": alice, "bob": bob, "carol": carol}
    objects = {}
    for who, c in callers.items():
        h = c.headers
        assert (await client.put("/v1/kv/ns/k", headers=h, json={"value": who})).is_success
        assert (await client.put("/v1/kv/vault/k", headers=h, json={"value": who})).is_success
        assert (await client.post("/v1/memory/sessions/s/entries", headers=h,
                                  json={"payload": who, "key": "k"})).is_success
        assert (await client.put(f"{V}/k", headers=h, json={"value": who})).is_success
        assert (await client.post("/v1/audit", headers=h, json={"action": who})).is_success
        up = await client.post("/v1/objects", headers={**h, "Content-Type": "text/plain"},
                               content=who.encode())
        objects[who] = up.json()["id"]
    for who, c in callers.items():
        h = c.headers
        assert (await client.get("/v1/kv/ns/k", headers=h)).json()["value"] == who
        assert (await client.get("/v1/kv/vault/k", headers=h)).json()["value"] == who
        assert [i["key"] for i in (await client.get("/v1/kv/ns", headers=h)).json()["items"]
                ] == ["k"]
        latest = await client.get("/v1/memory/sessions/s/entries/latest", headers=h)
        assert latest.json()["payload"] == who
        assert (await client.get(f"{V}/k", headers=h)).json()["value"] == who
        events = (await client.get("/v1/audit?limit=100", headers=h)).json()["items"]
        assert {e["person_id"] for e in events} == {c.person_id}
        assert {e["action"] for e in events} & set(callers) == {who}
        listed = [o["id"] for o in (await client.get("/v1/objects", headers=h)).json()["items"]]
        assert listed == [objects[who]]
        for other, object_id in objects.items():
            if other != who:
                r = await client.get(f"/v1/objects/{object_id}", headers=h)
                assert r.status_code == 404
                assert (await client.delete(f"/v1/objects/{object_id}",
                                            headers=h)).status_code == 404
    assert (await client.get(f"/v1/objects/{objects['bob']}",
                             headers=bob.headers)).content == b"bob"


async def test_readiness_checks_the_sqlite_database(client):
    r = await client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["checks"]["sqlite"] == "ok" and "postgres" not in r.json()["checks"]


async def test_one_operation_has_one_time_like_postgresql_now(client, alice):
    """now() on PostgreSQL is the transaction's start: a created secret's created_at and
    updated_at, and its first version's time, are one instant. The same on SQLite."""
    created = (await client.put(f"{V}/clock", headers=alice.headers,
                                json={"value": "c1"})).json()
    assert created["created_at"] == created["updated_at"]
    read = (await client.get(f"{V}/clock", headers=alice.headers)).json()
    assert read["created_at"] == created["created_at"]
    second = (await client.put(f"{V}/clock", headers=alice.headers,
                               json={"value": "c2"})).json()
    assert second["updated_at"] > second["created_at"] == created["created_at"]
