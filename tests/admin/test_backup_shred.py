"""Person data keys out of the dumps, and `shred-backup`, end to end on real servers:
migrated storage and context databases on the session's PostgreSQL, payloads in a
directory, graphs on ArcadeDB. Two persons' keys (and a namesake in another household)
are backed up into key files, not into the dumps; one person is shredded from the
backup; the manifest still verifies, the dumps are untouched, a second shred removes
nothing; a restore brings back every key but the shredded person's and names them."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests import graph_servers
from unison_admin.manifest import Manifest, verify_file
from unison_admin.pg import find_binary

ADMIN = [sys.executable, "-m", "unison_admin"]
KEYS = {"storage": "keys/storage.person_data_keys.jsonl",
        "context": "keys/context.person_data_keys.jsonl"}
# (tenant, person, version): ann and bob of home, and another household's ann.
PERSONS = [("home", "ann", 1), ("home", "ann", 2), ("home", "bob", 1), ("away", "ann", 1)]


def platform_set(postgres: Any, migrated_database: Any, tmp_path: Path) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    server = graph_servers.arcadedb()
    graph = f"g{tag}"
    server.ensure_database(graph)
    names = {section: f"bk_{section}_{tag}" for section in ("storage", "context")}
    for section, name in names.items():
        migrated_database(name, section)
    objects = tmp_path / f"objects-{tag}"
    objects.mkdir()
    return {"names": names, "options": [
        "--storage-db", postgres.url(names["storage"], user="postgres", driver="postgresql"),
        "--context-db", postgres.url(names["context"], user="postgres", driver="postgresql"),
        "--object-backend", "fs", "--object-root", str(objects),
        "--graph-uri", server.bolt_url, "--graph-user", "root",
        "--graph-password", server.password, "--graph-databases", graph]}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("STORAGE_", "UNISON_ADMIN_", "UNISON_GRAPH_"))}
    return subprocess.run([*ADMIN, *args], capture_output=True, text=True, timeout=300,
                          env={**env, "COLUMNS": "200"})


def key_rows(postgres: Any, database: str) -> list[str]:
    """Every row of person_data_keys as text, as the superuser (RLS hides nothing)."""
    out = postgres.psql("SELECT x::text FROM person_data_keys x ORDER BY 1",
                        database=database)
    return [line for line in out.splitlines() if line]


def seed_keys(postgres: Any, database: str, section: str) -> None:
    """Wrapped keys of every (tenant, person, version) of PERSONS: random bytes."""
    for tenant, person, version in PERSONS:
        kek = ", 'v1'" if section == "context" else ""
        columns = "tenant_id, person_id, version, " + \
            ("kek_version, " if section == "context" else "") + "wrapped_key"
        key = os.urandom(60).hex()
        postgres.psql(f"INSERT INTO person_data_keys ({columns}) VALUES ('{tenant}', "
                      f"'{person}', {version}{kek}, '\\x{key}'::bytea)", database=database)


def file_rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line]


@pytest.fixture
def backed_up(postgres: Any, migrated_database: Any,
              tmp_path: Path) -> tuple[dict[str, Any], Path, dict[str, list[str]]]:
    source = platform_set(postgres, migrated_database, tmp_path)
    for section, name in source["names"].items():
        seed_keys(postgres, name, section)
    rows = {section: key_rows(postgres, name) for section, name in source["names"].items()}
    out = tmp_path / "backup"
    made = run("backup", "--out", str(out), *source["options"])
    assert made.returncode == 0, made.stderr
    return source, out, rows


def test_keys_are_kept_out_of_the_dumps_in_files_of_their_own(backed_up: Any):
    _, out, rows = backed_up
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format_version"] == 2
    assert manifest["person_keys"]["separate"] is True
    assert manifest["shredded"] == []
    for section, rel in KEYS.items():
        info = manifest["person_keys"]["databases"][section]
        assert info["file"] == rel and info["rows"] == len(PERSONS)
        assert info["table"] == "public.person_data_keys"
        assert ["wrapped_key", "bytea"] in info["columns"]
        assert rel in {a["path"] for a in manifest["artifacts"]}
        lines = file_rows(out / rel)
        assert sorted((r["tenant_id"], r["person_id"], r["version"]) for r in lines) == \
            sorted(PERSONS)
        assert all(len(base64.b64decode(r["wrapped_key"])) == 60 for r in lines)
        assert all(r["created_at"] for r in lines)
        # The dump has the table (definition, grants, policy) but not its rows.
        listing = subprocess.run([find_binary("pg_restore"), "--list",
                                  str(out / "postgres" / f"{section}.dump")],
                                 capture_output=True, text=True, check=True).stdout
        assert "TABLE public person_data_keys" in listing
        assert "POLICY public person_data_keys" in listing
        assert "TABLE DATA public person_data_keys" not in listing
        assert "TABLE DATA public" in listing  # other tables' rows are there
        assert len(rows[section]) == len(PERSONS)


def test_shred_removes_one_persons_keys_and_a_restore_has_none_of_them(
        backed_up: Any, postgres: Any, migrated_database: Any, tmp_path: Path):
    _, out, rows = backed_up
    before = Manifest.read(out)
    shredded = run("shred-backup", str(out), "--household", "home", "--person", "ann")
    assert shredded.returncode == 0, shredded.stderr
    assert "context 2, storage 2" in shredded.stdout
    assert "erase-person" in shredded.stdout
    after = Manifest.read(out)
    for section, rel in KEYS.items():
        lines = file_rows(out / rel)
        assert sorted((r["tenant_id"], r["person_id"]) for r in lines) == \
            [("away", "ann"), ("home", "bob")]
        assert after.person_keys["databases"][section]["rows"] == 2
        assert after.artifacts[rel].sha256 != before.artifacts[rel].sha256
        # The dumps are untouched: same checksums, still verified.
        dump = f"postgres/{section}.dump"
        assert after.artifacts[dump] == before.artifacts[dump]
    assert all(verify_file(out, a) is None for a in after.artifacts.values())
    assert after.unlisted(out) == []
    assert [(s["tenant_id"], s["person_id"], s["keys_removed"]) for s in after.shredded] \
        == [("home", "ann", {"context": 2, "storage": 2})]
    assert after.finished_at == before.finished_at

    # Again: nothing removed, nothing rewritten.
    text = (out / "manifest.json").read_text()
    again = run("shred-backup", str(out), "--household", "home", "--person", "ann")
    assert again.returncode == 0, again.stderr
    assert "context 0, storage 0" in again.stdout
    assert (out / "manifest.json").read_text() == text

    target = platform_set(postgres, migrated_database, tmp_path)
    restored = run("restore", str(out), *target["options"])
    assert restored.returncode == 0, restored.stderr
    said = " ".join((restored.stdout + restored.stderr).split())
    assert "person ann of household home" in said
    assert "re-apply the erasures" in said and "unison-admin erase-person" in said
    for section, name in target["names"].items():
        back = key_rows(postgres, name)
        assert back == [r for r in rows[section] if not r.startswith("(home,ann,")]
        assert len(back) == 2
        assert not any(r.startswith("(home,ann,") for r in back)


def test_shred_refuses_a_damaged_key_file_and_a_backup_with_keys_in_its_dumps(
        backed_up: Any):
    _, out, _ = backed_up
    key_file = out / KEYS["context"]
    original = key_file.read_bytes()
    key_file.write_bytes(original.replace(b'"bob"', b'"bib"'))
    refused = run("shred-backup", str(out), "--household", "home", "--person", "bob")
    assert refused.returncode == 1
    assert "not shredding a damaged backup" in " ".join(refused.stderr.split())
    assert b'"bob"' in (out / KEYS["storage"]).read_bytes()  # nothing was removed
    key_file.write_bytes(original)

    # A format-1 manifest: its keys are inside the dumps, which shred never edits.
    data = json.loads((out / "manifest.json").read_text())
    data["format_version"] = 1
    del data["person_keys"], data["shredded"]
    (out / "manifest.json").write_text(json.dumps(data))
    old = run("shred-backup", str(out), "--household", "home", "--person", "bob")
    assert old.returncode == 1
    assert "keeps the person data keys inside its dumps" in " ".join(old.stderr.split())
    assert Manifest.read(out).format_version == 1  # still readable for restore


def test_erase_person_refuses_a_backup_it_could_not_shred_before_erasing(tmp_path: Path):
    """Checked before any service is called: the service URLs here lead nowhere, and
    the refusal names the directory that is no backup."""
    key = tmp_path / "platform.pem"
    assert run("new-signing-key", str(key)).returncode == 0
    not_a_backup = tmp_path / "nothing"
    not_a_backup.mkdir()
    refused = run("erase-person", "ann", "--household", "home", "--receipt",
                  str(tmp_path / "receipt.json"), "--signing-key", str(key),
                  "--token", "x", *(f"--{svc}-url=http://127.0.0.1:1" for svc in (
                      "storage", "context", "context-graph", "intent-graph")),
                  "--backups", str(not_a_backup))
    assert refused.returncode == 1, refused.stdout + refused.stderr
    said = " ".join(refused.stderr.split())
    assert "refused (nothing erased)" in said and "has no manifest.json" in said
    assert not (tmp_path / "receipt.json").exists()
