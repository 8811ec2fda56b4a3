"""The storage importer: a legacy SQLite file with payloads under objects/, read back
through storage's legacy routes; vault values encrypted; a second run imports nothing."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
import uuid

import asyncpg
import pytest

from unison_migrate.runner import import_storage
from unison_migrate.storage_import import StorageImport
from unison_shared.testing import environ


@pytest.fixture
def legacy(tmp_path):
    db = sqlite3.connect(tmp_path / "storage.db")
    db.executescript("""
        CREATE TABLE kv (ns TEXT, key TEXT, value TEXT, PRIMARY KEY (ns, key));
        CREATE TABLE memory_entries (id INTEGER PRIMARY KEY, session_id TEXT, data TEXT,
                                     expires_at REAL, created_at REAL);
        CREATE TABLE vault_entries (key_id TEXT PRIMARY KEY, cipher_text TEXT,
                                    metadata TEXT, version INTEGER, updated_at REAL);
        CREATE TABLE audit_events (id TEXT, action TEXT, actor TEXT, target TEXT,
                                   decision_id TEXT, status TEXT, person_id TEXT,
                                   created_at REAL);
        CREATE TABLE objects (id TEXT PRIMARY KEY, person_id TEXT, content_type TEXT,
                              size_bytes INTEGER, checksum TEXT, created_at REAL);
    """)
    secret = f"sk-{uuid.uuid4().hex}"
    now = time.time()
    db.executemany("INSERT INTO kv VALUES (?, ?, ?)", [
        ("default", "greeting", json.dumps({"hello": "world"})),
        ("vault", "payment:p:i1", json.dumps({"token": secret})),
        ("default", "broken", "{not json"),
    ])
    db.executemany("INSERT INTO memory_entries VALUES (?, ?, ?, ?, ?)", [
        (1, "sess-live", json.dumps({"turn": 1}), now + 3600, now),
        (2, "sess-old", json.dumps({"turn": 0}), now - 60, now - 7200),
    ])
    db.execute("INSERT INTO vault_entries VALUES (?, ?, ?, ?, ?)",
               ("api-key", secret, json.dumps({"owner": "ops"}), 3, now))
    db.executemany("INSERT INTO audit_events VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [
        ("ev-1", "login", "alice", "console", None, "ok", None, now),
        (None, "logout", "alice", "console", None, "ok", None, now),
        ("ev-2", None, "alice", "x", None, None, None, now),
    ])
    objects = tmp_path / "objects"
    objects.mkdir()
    good, bad = b"payload-" + uuid.uuid4().bytes, b"tampered"
    (objects / "obj-1").write_bytes(good)
    (objects / "obj-3").write_bytes(bad)
    db.executemany("INSERT INTO objects VALUES (?, ?, ?, ?, ?, ?)", [
        ("obj-1", None, "text/plain", len(good), hashlib.sha256(good).hexdigest(), now),
        ("obj-2", None, "text/plain", 3, None, now),  # payload missing
        ("obj-3", None, "text/plain", 8, hashlib.sha256(b"original").hexdigest(), now),
    ])
    db.commit()
    db.close()
    return {"path": tmp_path / "storage.db", "secret": secret, "payload": good}


async def test_storage_round_trip_and_second_run(legacy, storage_env, storage_app,
                                                 storage_client, make_caller, postgres):
    caller = make_caller()
    opts = StorageImport(tenant=caller.household_id, person=caller.person_id,
                         objects_dir=legacy["path"].parent / "objects")
    with environ(storage_env):
        report = await import_storage(legacy["path"], opts)
    t = report.tables
    assert (t["kv"].imported, t["kv"].failed) == (2, 1)
    assert "value is not JSON" in t["kv"].failures[0][1]
    assert (t["memory_entries"].imported, t["memory_entries"].skipped) == (1, 1)
    assert t["memory_entries"].reasons == {"expired": 1}
    assert t["vault_entries"].imported == 1
    assert (t["audit_events"].imported, t["audit_events"].failed) == (2, 1)
    assert (t["objects"].imported, t["objects"].failed) == (1, 2)
    reasons = dict(t["objects"].failures)
    assert reasons == {"row 2": "payload obj-2 is missing under objects/",
                       "row 3": "payload does not match its checksum"}

    c, h = storage_client, caller.headers
    assert (await c.get("/kv/default/greeting", headers=h)).json()["value"] == {
        "hello": "world"}
    assert (await c.get("/kv/vault/payment:p:i1", headers=h)).json()["value"] == {
        "token": legacy["secret"]}
    memory = (await c.get("/memory/sess-live", headers=h)).json()
    assert memory["data"] == {"turn": 1}
    vault = (await c.get("/vault/api-key", headers=h)).json()
    assert vault["cipher_text"] == legacy["secret"]
    assert vault["metadata"] == {"owner": "ops"}
    obj = (await c.get("/objects/obj-1", headers=h)).json()
    assert obj["ok"] is True
    assert obj["size_bytes"] == len(legacy["payload"])
    # Secrets are stored encrypted: no column holds the plaintext.
    raw = await asyncpg.connect(postgres.url("migrate_storage_test", user="postgres",
                                             driver="postgresql"))
    try:
        hits = await raw.fetchval(
            "SELECT (SELECT count(*) FROM kv_records WHERE strpos(coalesce(value::text, ''), "
            "$1) > 0) + (SELECT count(*) FROM vault_versions WHERE position($2::bytea in "
            "coalesce(ciphertext, ''::bytea)) > 0)", legacy["secret"], legacy["secret"].encode())
    finally:
        await raw.close()
    assert hits == 0

    with environ(storage_env):
        again = await import_storage(legacy["path"], opts)
    assert again.imported == 0
    assert again.tables["audit_events"].reasons == {"event already in the chain": 2}
    assert again.tables["kv"].skipped == 2
    assert again.tables["objects"].skipped == 1
    assert (await c.get("/vault/api-key", headers=h)).json()["version"] == 1
