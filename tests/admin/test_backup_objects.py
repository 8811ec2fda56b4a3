"""The object payloads backup copies and restore writes back, on both backends: a
directory (as the fs backend lays it out, temporary upload files skipped) and a real
S3 API (SeaweedFS), where restore creates the bucket when the target has none yet."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from unison_admin.object_store import FsObjects, S3Objects, is_key, open_store
from unison_admin.targets import ObjectStoreConfig

BIG = 3 * 1024 * 1024 + 17


def test_keys_are_the_services_shapes():
    assert is_key("home/ab/0123abcd")
    assert not is_key("home/ab/.tmp-0123")
    assert not is_key("home/../etc/passwd")
    assert not is_key("/abs/key")
    assert not is_key("home/a b")


def test_fs_listing_copy_and_atomic_upload(tmp_path: Path):
    root = tmp_path / "objects"
    (root / "home" / "ab").mkdir(parents=True)
    (root / "home" / "ab" / "k1").write_bytes(b"one")
    (root / "home" / "ab" / ".tmp-123").write_bytes(b"half")
    (root / "other" / "cd").mkdir(parents=True)
    big = os.urandom(BIG)
    (root / "other" / "cd" / "k2").write_bytes(big)
    store = open_store(ObjectStoreConfig(backend="fs", fs_root=root))
    assert list(store.listing()) == [("home/ab/k1", 3), ("other/cd/k2", BIG)]
    copy = tmp_path / "copy"
    store.download("other/cd/k2", copy)
    assert copy.read_bytes() == big

    target = FsObjects(tmp_path / "target")
    assert list(target.listing()) == []  # no directory yet: empty
    target.upload("other/cd/k2", copy)
    written = tmp_path / "target" / "other" / "cd" / "k2"
    assert hashlib.sha256(written.read_bytes()).digest() == hashlib.sha256(big).digest()
    assert oct(written.stat().st_mode & 0o777) == "0o600"
    assert [p.name for p in written.parent.iterdir()] == ["k2"]  # no temporary left


def test_s3_round_trip_creates_the_bucket(seaweed: Any, tmp_path: Path):
    from unison_devstack.seaweedfs import ACCESS_KEY, SECRET_KEY

    def store(bucket: str) -> S3Objects:
        cfg = ObjectStoreConfig(backend="s3", s3_endpoint_url=seaweed.endpoint,
                                s3_bucket=bucket, s3_access_key_id=ACCESS_KEY,
                                s3_secret_access_key=SECRET_KEY)
        s3 = open_store(cfg)
        assert isinstance(s3, S3Objects)
        return s3

    source, target = store(f"bk-{uuid.uuid4().hex[:8]}"), store(f"bk-{uuid.uuid4().hex[:8]}")
    assert list(target.listing()) == []  # a bucket that does not exist is empty
    big = os.urandom(BIG)
    payload = tmp_path / "p"
    payload.write_bytes(big)
    source.upload("home/ab/k1", payload)
    source.upload("home/cd/k2", payload)
    assert list(source.listing()) == [("home/ab/k1", BIG), ("home/cd/k2", BIG)]
    for key, _size in source.listing():
        dest = tmp_path / key.replace("/", "_")
        source.download(key, dest)
        target.upload(key, dest)
    assert list(target.listing()) == list(source.listing())
    back = tmp_path / "back"
    target.download("home/cd/k2", back)
    assert back.read_bytes() == big
    with pytest.raises(FileNotFoundError):  # deleted since the listing: skipped by backup
        target.download("home/zz/gone", tmp_path / "gone")
