"""Payloads in an S3-compatible bucket (AWS S3, SeaweedFS, MinIO).

Uploads go up as multipart parts of about 8 MiB, so the service holds at most one part of
a body in memory whatever the object's size; a failed upload is aborted. The client is
opened on first use and the bucket created when missing (the store factory is sync).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from datetime import datetime
from typing import TYPE_CHECKING, Any

import aioboto3
import anyio
from aiobotocore.config import AioConfig
from botocore.exceptions import BotoCoreError, ClientError

from ..settings import StorageOptions
from .store import BlobInfo, BlobMissing, StoreUnavailable

if TYPE_CHECKING:
    from types_aiobotocore_s3.client import S3Client

PART_SIZE = 8 * 1024 * 1024
READ_CHUNK = 1024 * 1024
_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextlib.contextmanager
def _write_errors() -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        raise StoreUnavailable(f"object store write failed: {_code(exc)}") from exc
    except BotoCoreError as exc:
        raise StoreUnavailable(f"object store write failed: {type(exc).__name__}") from exc


@contextlib.contextmanager
def _unreachable(op: str) -> Iterator[None]:
    """Connection-level failures (refused, timed out, DNS) become StoreUnavailable."""
    try:
        yield
    except BotoCoreError as exc:
        raise StoreUnavailable(f"object store {op} failed: {type(exc).__name__}") from exc


class S3ObjectStore:
    def __init__(self, opts: StorageOptions) -> None:
        self.bucket = opts.s3_bucket
        self.endpoint_url = opts.s3_endpoint_url
        self._session = aioboto3.Session(
            aws_access_key_id=opts.s3_access_key_id.get_secret_value()
            if opts.s3_access_key_id else None,
            aws_secret_access_key=opts.s3_secret_access_key.get_secret_value()
            if opts.s3_secret_access_key else None,
            region_name=opts.s3_region,
        )
        # Checksums "when required" only: S3-compatible stores do not all accept the
        # aws-chunked trailers newer botocore sends by default. SHA-256 is ours anyway.
        self._config = AioConfig(
            s3={"addressing_style": "path"}, signature_version="s3v4",
            connect_timeout=5, read_timeout=60,
            retries={"max_attempts": 3, "mode": "standard"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self._stack = AsyncExitStack()
        self._client: S3Client | None = None
        self._bucket_ready = False
        self._lock = asyncio.Lock()

    async def _s3(self) -> S3Client:
        if self._client is None or not self._bucket_ready:
            async with self._lock:
                if self._client is None:
                    self._client = await self._stack.enter_async_context(
                        self._session.client("s3", endpoint_url=self.endpoint_url,
                                             config=self._config))
                if not self._bucket_ready:
                    with _unreachable("bucket check"):
                        await self._ensure_bucket(self._client)
                    self._bucket_ready = True
        return self._client

    async def _ensure_bucket(self, client: S3Client) -> None:
        try:
            await client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as exc:
            if _code(exc) not in _MISSING:
                raise StoreUnavailable(f"bucket check failed: {_code(exc)}") from exc
        try:
            await client.create_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if _code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise StoreUnavailable(f"bucket creation failed: {_code(exc)}") from exc

    async def put_stream(self, key: str, chunks: AsyncIterator[bytes]) -> tuple[int, str]:
        client = await self._s3()
        hasher = hashlib.sha256()
        size = 0
        buf = bytearray()
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []

        async def send_part(data: bytes) -> None:
            nonlocal upload_id
            if upload_id is None:
                created = await client.create_multipart_upload(Bucket=self.bucket, Key=key)
                upload_id = created["UploadId"]
            number = len(parts) + 1
            reply = await client.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                             PartNumber=number, Body=data)
            parts.append({"PartNumber": number, "ETag": reply["ETag"]})

        async def finish(data: bytes) -> None:
            if upload_id is None:
                await client.put_object(Bucket=self.bucket, Key=key, Body=data)
                return
            if data:
                await send_part(data)
            await client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id,
                MultipartUpload={"Parts": parts})  # type: ignore[typeddict-item]

        try:
            async for chunk in chunks:
                hasher.update(chunk)
                size += len(chunk)
                buf += chunk
                if len(buf) >= PART_SIZE:
                    data, buf = bytes(buf), bytearray()
                    with _write_errors():
                        await send_part(data)
            with _write_errors():
                await finish(bytes(buf))
        except BaseException:
            if upload_id is not None:
                # Shielded: a cancelled request still aborts its parts when it can.
                with anyio.move_on_after(10, shield=True), contextlib.suppress(Exception):
                    await client.abort_multipart_upload(Bucket=self.bucket, Key=key,
                                                        UploadId=upload_id)
            raise
        return size, hasher.hexdigest()

    async def open_range(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        client = await self._s3()
        try:
            with _unreachable("read"):
                reply = await client.get_object(Bucket=self.bucket, Key=key,
                                                Range=f"bytes={start}-{end}")
        except ClientError as exc:
            if _code(exc) in _MISSING or _code(exc) == "InvalidRange":
                raise BlobMissing(key) from exc
            raise StoreUnavailable(f"object store read failed: {_code(exc)}") from exc
        return self._read(reply["Body"])

    async def _read(self, body: Any) -> AsyncIterator[bytes]:
        try:
            while True:
                data = await body.read(READ_CHUNK)
                if not data:
                    return
                yield data
        finally:
            body.close()

    async def head(self, key: str) -> BlobInfo | None:
        client = await self._s3()
        try:
            with _unreachable("head"):
                reply = await client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            raise StoreUnavailable(f"object store head failed: {_code(exc)}") from exc
        return BlobInfo(key, int(reply["ContentLength"]), reply["LastModified"])

    async def delete(self, key: str) -> None:
        client = await self._s3()
        try:
            with _unreachable("delete"):
                await client.delete_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _code(exc) not in _MISSING:
                raise StoreUnavailable(f"object store delete failed: {_code(exc)}") from exc

    async def list_keys(self, prefix: str = "") -> AsyncIterator[BlobInfo]:
        client = await self._s3()
        paginator = client.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield BlobInfo(item["Key"], int(item["Size"]), item["LastModified"])

    async def abort_stale_uploads(self, started_before: datetime, dry_run: bool) -> int:
        client = await self._s3()
        stale: list[tuple[str, str]] = []
        with _unreachable("list multipart uploads"):
            paginator = client.get_paginator("list_multipart_uploads")
            async for page in paginator.paginate(Bucket=self.bucket):
                for upload in page.get("Uploads", []):
                    if upload["Initiated"] < started_before:
                        stale.append((upload["Key"], upload["UploadId"]))
        if not dry_run:
            for key, upload_id in stale:
                try:
                    with _unreachable("abort multipart upload"):
                        await client.abort_multipart_upload(Bucket=self.bucket, Key=key,
                                                            UploadId=upload_id)
                except ClientError as exc:
                    if _code(exc) not in ("NoSuchUpload", *_MISSING):
                        raise StoreUnavailable(f"abort failed: {_code(exc)}") from exc
        return len(stale)

    async def check(self) -> None:
        client = await self._s3()
        await client.head_bucket(Bucket=self.bucket)

    async def close(self) -> None:
        await self._stack.aclose()
        self._client = None
        self._bucket_ready = False
