"""The object store's payloads, read and written the way the storage service keys them:
`{tenant}/{xx}/{blob-uuid}` under a directory (fs backend) or in a bucket (s3 backend).
Temporary upload files (`.tmp-*`) and names the service never writes are not payloads
and are skipped, as the service's own listing skips them."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from .targets import ObjectStoreConfig

# The storage service's key shape (unison_storage.objects.fs_store._KEY).
_KEY = re.compile(r"^[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*$")
TEMP_PREFIX = ".tmp-"
# What an object-store step can fail with: the disk's errors, S3's.
ERRORS: tuple[type[Exception], ...] = (OSError, BotoCoreError, ClientError)


def is_key(key: str) -> bool:
    parts = key.split("/")
    return (bool(_KEY.match(key)) and not any(p in (".", "..") for p in parts)
            and not parts[-1].startswith(TEMP_PREFIX))


class ObjectStore(Protocol):
    def describe(self) -> str: ...

    def listing(self) -> Iterator[tuple[str, int]]:
        """(key, size) of every payload, in key order."""
        ...

    def download(self, key: str, dest: Path) -> None: ...

    def upload(self, key: str, src: Path) -> None: ...


class FsObjects:
    def __init__(self, root: Path) -> None:
        self.root = root

    def describe(self) -> str:
        return str(self.root)

    def listing(self) -> Iterator[tuple[str, int]]:
        if not self.root.exists():
            return
        found = []
        for dirpath, _dirs, files in os.walk(self.root):
            rel = Path(dirpath).relative_to(self.root)
            for name in files:
                key = (rel / name).as_posix()
                if is_key(key):
                    found.append(key)
        for key in sorted(found):
            try:
                yield key, (self.root / key).stat().st_size
            except FileNotFoundError:  # deleted since the walk: not in the backup
                continue

    def download(self, key: str, dest: Path) -> None:
        with (self.root / key).open("rb") as src, dest.open("wb") as out:
            while chunk := src.read(1024 * 1024):
                out.write(chunk)

    def upload(self, key: str, src: Path) -> None:
        """Atomic like the service's own writes: a temporary file, then a rename."""
        final = self.root / key
        final.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = final.parent / f"{TEMP_PREFIX}{uuid.uuid4().hex}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out, src.open("rb") as data:
            while chunk := data.read(1024 * 1024):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, final)


class S3Objects:
    def __init__(self, cfg: ObjectStoreConfig) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = cfg.s3_bucket
        self.endpoint = cfg.s3_endpoint_url
        self._bucket_ready = False
        self.client: Any = boto3.client(
            "s3", endpoint_url=cfg.s3_endpoint_url, region_name=cfg.s3_region,
            aws_access_key_id=cfg.s3_access_key_id,
            aws_secret_access_key=cfg.s3_secret_access_key,
            config=Config(s3={"addressing_style": "path"}, signature_version="s3v4",
                          request_checksum_calculation="when_required",
                          response_checksum_validation="when_required"))

    def describe(self) -> str:
        return f"s3://{self.bucket} at {self.endpoint or 'AWS'}"

    def _bucket_exists(self) -> bool:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket", "NotFound"):
                return False
            raise
        return True

    def listing(self) -> Iterator[tuple[str, int]]:
        if not self._bucket_exists():
            return
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        for page in pages:
            for item in page.get("Contents", []):
                if is_key(item["Key"]):
                    yield item["Key"], int(item["Size"])

    def download(self, key: str, dest: Path) -> None:
        """FileNotFoundError when the key went away since the listing (as on disk)."""
        try:
            self.client.download_file(self.bucket, key, str(dest))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                raise FileNotFoundError(key) from exc
            raise

    def upload(self, key: str, src: Path) -> None:
        if not self._bucket_ready:
            if not self._bucket_exists():
                self.client.create_bucket(Bucket=self.bucket)
            self._bucket_ready = True
        self.client.upload_file(str(src), self.bucket, key)


def open_store(cfg: ObjectStoreConfig) -> ObjectStore:
    if cfg.backend == "s3":
        return S3Objects(cfg)
    assert cfg.fs_root is not None
    return FsObjects(cfg.fs_root)
