"""Crypto-shredding reaches backups (docs/backup.md, Person keys): two persons of the
session's platform store a vault secret and a profile; a backup is taken; one person is
erased with `unison-admin erase-person --backups` (which removes their data keys from
the backup and says so in the signed receipt); the backup is restored into a second
platform, which cannot decrypt the erased person's secret nor profile, still serves the
other person's, names the shredded person, and verifies its audit chain."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.platform import HOUSEHOLD, Platform, good, marker, ok, started_platform
from tests.e2e.test_backup_restore import admin, admin_env, copy_keys

pytestmark = pytest.mark.slow

ADMIN = str(Path(sys.executable).parent / "unison-admin")
KEY_FILES = {db: f"keys/{db}.person_data_keys.jsonl" for db in ("storage", "context")}


def erase(plat: Platform, *args: str) -> subprocess.CompletedProcess[str]:
    """The person commands against the platform's service URLs, as test_person_erasure."""
    env = {**plat.env, "UNISON_STORAGE_URL": plat.storage, "UNISON_CONTEXT_URL": plat.context,
           "UNISON_CONTEXT_GRAPH_URL": plat.context_graph,
           "UNISON_INTENT_GRAPH_URL": plat.intent_graph}
    done = subprocess.run([ADMIN, *args], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def write(plat: Platform, http: httpx.Client, pid: str) -> dict[str, str]:
    """A vault secret and a profile of `pid`, both sealed under the person's keys."""
    person = plat.person_headers(pid)
    data = {"vault_name": f"api/{marker('shred')}", "vault_value": marker("secret"),
            "wakeword": marker("wake")}
    good(http.put(f"{plat.storage}/v1/vault/secrets/{data['vault_name']}", headers=person,
                  json={"value": data["vault_value"]}), 201)
    ok(http.post(f"{plat.context}/profile/{pid}", headers=person, json={
        "profile": {"locale": "en-GB", "voice": {"wakeword": data["wakeword"]}}}))
    return data


def key_persons(backup: Path, db: str) -> set[str]:
    lines = (backup / KEY_FILES[db]).read_text().splitlines()
    return {json.loads(line)["person_id"] for line in lines if line}


def test_an_erasure_shreds_the_persons_keys_from_a_backup_taken_before(
        platform: Platform, http: httpx.Client, tmp_path: Path):
    victim, bystander = marker("shredded"), marker("kept")
    gone, kept = write(platform, http, victim), write(platform, http, bystander)
    backup = tmp_path / "backup"
    made = admin("backup", "--out", backup, env=admin_env(platform))
    assert made.returncode == 0, made.stderr[-3000:]
    for db in KEY_FILES:  # both persons' keys are in the backup, outside the dumps
        assert {victim, bystander} <= key_persons(backup, db), db

    key, receipt = tmp_path / "platform.pem", tmp_path / "receipt.json"
    public = erase(platform, "new-signing-key", str(key)).stdout.strip()
    erase(platform, "erase-person", victim, "--household", HOUSEHOLD, "--receipt",
          str(receipt), "--signing-key", str(key), "--hs256-secret-file",
          str(platform.state_dir / "secrets" / "hs256"), "--backups", str(backup))
    verified = erase(platform, "verify-receipt", str(receipt), "--public-key", public)
    assert f"person-erasure of {victim}" in verified.stdout
    body: dict[str, Any] = json.loads(receipt.read_text())["receipt"]
    [shredded] = body["backups"]  # signed with the rest of the receipt
    assert shredded["backup"] == str(backup)
    assert shredded["keys_removed"]["storage"] >= 1, shredded
    assert shredded["keys_removed"]["context"] >= 1, shredded
    for db in KEY_FILES:
        assert victim not in key_persons(backup, db), db
        assert bystander in key_persons(backup, db), db
    manifest = json.loads((backup / "manifest.json").read_text())
    assert [(s["tenant_id"], s["person_id"]) for s in manifest["shredded"]] == \
        [(HOUSEHOLD, victim)]

    target_state = tmp_path / "target" / "state"
    copy_keys(platform.state_dir, target_state)  # the KEKs: the same platform restored
    with started_platform(target_state) as target:
        restored = admin("restore", backup, "--devstack", target_state, env=target.env)
        assert restored.returncode == 0, restored.stdout + restored.stderr[-3000:]
        said = " ".join((restored.stdout + restored.stderr).split())
        assert f"person {victim} of household {HOUSEHOLD}" in said
        assert "re-apply the erasures" in said

        # The erased person's encrypted records are there, but cannot be opened.
        assert target.postgres.psql(
            "SELECT count(*) FROM vault_secrets WHERE person_id = "
            f"'{victim}'", database="storage").strip() != "0"
        person = target.person_headers(victim)
        secret = http.get(f"{target.storage}/v1/vault/secrets/{gone['vault_name']}",
                          headers=person)
        assert gone["vault_value"] not in secret.text
        # 410: the person was erased (their key is gone), not a server fault.
        assert secret.status_code == 410, secret.text
        assert secret.json()["type"].endswith("/person-erased")
        profile = http.get(f"{target.context}/profile/{victim}", headers=person)
        assert gone["wakeword"] not in profile.text, profile.text
        assert profile.status_code == 410, profile.text

        # The other person's are read as before.
        other = target.person_headers(bystander)
        assert good(http.get(f"{target.storage}/v1/vault/secrets/{kept['vault_name']}",
                             headers=other))["value"] == kept["vault_value"]
        assert ok(http.get(f"{target.context}/profile/{bystander}", headers=other)
                  )["profile"]["voice"]["wakeword"] == kept["wakeword"]

        verdict = good(http.post(f"{target.storage}/v1/audit/verify",
                                 headers=target.service_headers(), json={}))
        assert verdict["valid"] is True, verdict
