"""unison-admin's person commands, without the services: receipts (signature, tampering,
pinned keys), the export archive (layout, checksums) and the CLI's refusals. The commands
against the four running services are tested end to end in
tests/e2e/test_person_erasure.py."""

from __future__ import annotations

import base64
import copy
import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from unison_admin import receipts
from unison_admin.cli import app
from unison_admin.export_archive import ExportError, read_archive, write_archive


def _body() -> dict[str, Any]:
    return {"receipt_version": 1, "kind": "person-erasure", "tenant_id": "home",
            "person_id": "p-1", "completed_at": "2026-12-03T00:00:00+00:00",
            "stores": {"storage": {"removed": {"kv": 2}, "keys_destroyed": 1,
                                   "caches_purged": 0}}}


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "platform.pem"
    receipts.create_signing_key(path)
    return path


def test_a_signed_receipt_verifies_and_pins_its_key(key_file: Path):
    key = receipts.load_signing_key(key_file)
    signed = receipts.sign(_body(), key)
    assert receipts.verify(signed) == _body()
    assert receipts.verify(signed, receipts.public_key_b64(key)) == _body()
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_an_edited_receipt_fails(key_file: Path):
    signed = receipts.sign(_body(), receipts.load_signing_key(key_file))
    edited = copy.deepcopy(signed)
    edited["receipt"]["stores"]["storage"]["removed"]["kv"] = 3
    with pytest.raises(receipts.ReceiptError, match="does not match"):
        receipts.verify(edited)


def test_a_receipt_signed_by_another_key_fails_against_the_pinned_key(tmp_path: Path,
                                                                       key_file: Path):
    other = tmp_path / "other.pem"
    receipts.create_signing_key(other)
    forged = receipts.sign(_body(), receipts.load_signing_key(other))
    trusted = receipts.public_key_b64(receipts.load_signing_key(key_file))
    receipts.verify(forged)  # self-consistent, which is why verifiers pin the key
    with pytest.raises(receipts.ReceiptError, match="another key"):
        receipts.verify(forged, trusted)


def test_signing_keys_are_never_overwritten_and_must_be_ed25519(tmp_path: Path,
                                                                key_file: Path):
    with pytest.raises(FileExistsError):
        receipts.create_signing_key(key_file)
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    with pytest.raises(receipts.ReceiptError, match="cannot read"):
        receipts.load_signing_key(bad)


def _lines() -> dict[str, list[dict[str, Any]]]:
    blob = b"the payload \x00\x01"
    return {
        "storage": [
            {"domain": "kv", "record": {"key": "a", "value": {"x": 1}}},
            {"domain": "objects", "record": {"key": "o/1"},
             "payload_b64": base64.b64encode(blob).decode(),
             "sha256": hashlib.sha256(blob).hexdigest()},
        ],
        "context": [{"domain": "profile", "record": {"name": "N"}}],
    }


def test_the_archive_holds_records_payloads_and_a_checked_manifest(tmp_path: Path):
    out = tmp_path / "export.tar.gz"
    manifest = write_archive(out, "home", "p-1", False, _lines())
    assert manifest["records"] == {"storage": {"kv": 1, "objects": 1},
                                   "context": {"profile": 1}}
    read, files = read_archive(out)
    assert read == manifest
    digest = hashlib.sha256(b"the payload \x00\x01").hexdigest()
    assert files[f"storage/payloads/{digest}"] == b"the payload \x00\x01"
    objects = [json.loads(line) for line in files["storage/objects.jsonl"].splitlines()]
    assert objects == [{"key": "o/1", "payload": f"storage/payloads/{digest}"}]
    assert out.stat().st_mode & 0o777 == 0o600


def test_a_payload_that_fails_its_checksum_is_refused(tmp_path: Path):
    lines = _lines()
    lines["storage"][1]["sha256"] = "0" * 64
    with pytest.raises(ExportError, match="SHA-256"):
        write_archive(tmp_path / "x.tar.gz", "home", "p-1", False, lines)


def test_a_tampered_archive_fails_its_manifest(tmp_path: Path):
    out = tmp_path / "export.tar.gz"
    write_archive(out, "home", "p-1", False, _lines())
    with tarfile.open(out, "r:gz") as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    members["context/profile.jsonl"] = b'{"name": "changed"}\n'
    tampered = tmp_path / "tampered.tar.gz"
    with tarfile.open(tampered, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(ExportError, match=r"context/profile\.jsonl"):
        read_archive(tampered)


def test_erase_person_refuses_to_start_without_a_signing_key(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(receipts.SIGNING_KEY_ENV, raising=False)
    result = CliRunner().invoke(app, [
        "erase-person", "p-1", "--household", "home", "--receipt", str(tmp_path / "r.json"),
        "--token", "t", "--storage-url", "http://127.0.0.1:9"])
    assert result.exit_code != 0
    assert "signing key" in str(result.exception)
    assert not (tmp_path / "r.json").exists()


def test_erase_person_names_the_service_that_failed(tmp_path: Path, key_file: Path):
    # Port 9 (discard) refuses connections here: the first service is unreachable.
    result = CliRunner().invoke(app, [
        "erase-person", "p-1", "--household", "home", "--receipt", str(tmp_path / "r.json"),
        "--token", "t", "--signing-key", str(key_file),
        "--context-graph-url", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    assert "context-graph" in result.output
    assert not (tmp_path / "r.json").exists()


def test_verify_receipt_command(tmp_path: Path, key_file: Path):
    signed = receipts.sign(_body(), receipts.load_signing_key(key_file))
    path = tmp_path / "r.json"
    path.write_text(json.dumps(signed))
    ok = CliRunner().invoke(app, ["verify-receipt", str(path)])
    assert ok.exit_code == 0, ok.output
    assert "valid: person-erasure of p-1 in home" in ok.output
    signed["receipt"]["person_id"] = "p-2"
    path.write_text(json.dumps(signed))
    bad = CliRunner().invoke(app, ["verify-receipt", str(path)])
    assert bad.exit_code == 1


def test_a_stream_that_says_how_long_it_is_is_checked(tmp_path: Path):
    lines = _lines()
    lines["storage"].append({"domain": "export", "record": {"complete": True, "lines": 2}})
    manifest = write_archive(tmp_path / "ok.tar.gz", "home", "p-1", False, lines)
    assert "export" not in manifest["records"]["storage"]  # checked, not archived
    lines["storage"][-1]["record"]["lines"] = 3  # a line was lost on the way
    with pytest.raises(ExportError, match="incomplete"):
        write_archive(tmp_path / "cut.tar.gz", "home", "p-1", False, lines)
