"""The backup manifest: every file's size and SHA-256, read back and held against the
files; anything missing, changed, unlisted or outside the backup is named."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from unison_admin.manifest import (
    FORMAT_VERSION,
    Manifest,
    ManifestError,
    sha256_file,
    verify_file,
)


def backup_dir(tmp_path: Path) -> tuple[Path, Manifest]:
    root = tmp_path / "b"
    (root / "objects" / "home" / "ab").mkdir(parents=True)
    (root / "postgres").mkdir()
    (root / "postgres" / "storage.dump").write_bytes(b"PGDMP" + bytes(range(256)) * 10)
    (root / "objects" / "home" / "ab" / "blob").write_bytes(b"payload")
    manifest = Manifest(order=["postgres:storage", "objects"],
                        postgres={"storage": {"alembic": {"alembic_version_storage": ["0019"]}}},
                        graph={"context": {"nodes": 3, "relationships": 1}},
                        objects={"count": 1})
    for path in sorted(root.rglob("*")):
        if path.is_file():
            manifest.add(root, path)
    manifest.write(root)
    return root, manifest


def test_written_manifest_reads_back_with_digests_of_every_file(tmp_path: Path):
    root, written = backup_dir(tmp_path)
    data = json.loads((root / "manifest.json").read_text())
    assert data["format"] == "unison-backup" and data["format_version"] == FORMAT_VERSION
    assert data["finished_at"] >= data["created_at"]
    read = Manifest.read(root)
    assert read.postgres == written.postgres and read.graph == written.graph
    assert read.order == ["postgres:storage", "objects"]
    assert set(read.artifacts) == {"postgres/storage.dump", "objects/home/ab/blob"}
    blob = read.artifacts["objects/home/ab/blob"]
    assert blob.size == 7 and blob.sha256 == hashlib.sha256(b"payload").hexdigest()
    assert sha256_file(root / "postgres" / "storage.dump") == \
        read.artifacts["postgres/storage.dump"].sha256
    assert all(verify_file(root, a) is None for a in read.artifacts.values())
    assert read.unlisted(root) == []


def test_a_flipped_byte_a_resize_a_missing_and_a_stray_file_are_named(tmp_path: Path):
    root, _ = backup_dir(tmp_path)
    manifest = Manifest.read(root)
    dump = root / "postgres" / "storage.dump"
    data = bytearray(dump.read_bytes())
    data[100] ^= 0x80
    dump.write_bytes(bytes(data))
    why = verify_file(root, manifest.artifacts["postgres/storage.dump"])
    assert why is not None and why.startswith("postgres/storage.dump: SHA-256 mismatch")
    (root / "objects" / "home" / "ab" / "blob").write_bytes(b"payload+")
    assert verify_file(root, manifest.artifacts["objects/home/ab/blob"]) == \
        "objects/home/ab/blob: size 8, the manifest says 7"
    (root / "objects" / "home" / "ab" / "blob").unlink()
    assert verify_file(root, manifest.artifacts["objects/home/ab/blob"]) == \
        "objects/home/ab/blob: missing"
    (root / "objects" / "extra").write_bytes(b"x")
    assert manifest.unlisted(root) == ["objects/extra"]


def test_paths_outside_the_backup_are_refused(tmp_path: Path):
    root, manifest = backup_dir(tmp_path)
    (tmp_path / "outside").write_bytes(b"x")
    art = manifest.add(root, root / "postgres" / "storage.dump")
    art.path = "../outside"
    assert verify_file(root, art) == "../outside: not a path inside the backup"


@pytest.mark.parametrize(("content", "message"), [
    (None, "has no manifest.json"),
    ("{not json", "not valid JSON"),
    ('{"format": "something-else"}', "not a unison-backup manifest"),
    ('{"format": "unison-backup", "format_version": 99}', "format version 99"),
    ('{"format": "unison-backup", "format_version": 1, "artifacts": []}', "misses"),
])
def test_what_is_not_a_manifest_is_refused(tmp_path: Path, content: str | None,
                                           message: str):
    if content is not None:
        (tmp_path / "manifest.json").write_text(content)
    with pytest.raises(ManifestError, match=message):
        Manifest.read(tmp_path)
