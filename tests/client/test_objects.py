"""Objects surface: every upload source, ranged and streamed downloads, presign."""

from __future__ import annotations

import hashlib
import io
from collections.abc import AsyncIterator

import httpx
import pytest

from unison_client import NotFoundError, UnisonClient, ValidationError


async def _chunks(n: int, size: int) -> AsyncIterator[bytes]:
    for i in range(n):
        yield bytes([i % 256]) * size


async def test_upload_sources_and_downloads(u: UnisonClient, tmp_path) -> None:
    payload = b"hello objects"
    meta = await u.objects.upload(payload, content_type="text/plain", filename="hi.txt",
                                  labels={"kind": "note"},
                                  sha256=hashlib.sha256(payload).hexdigest())
    assert (meta.size_bytes, meta.filename, meta.labels) == (13, "hi.txt", {"kind": "note"})
    assert await u.objects.read(meta.id) == payload
    assert await u.objects.read(meta.id, start=6, end=12) == b"objects"
    assert await u.objects.read(meta.id, start=6) == b"objects"
    head = await u.objects.head(meta.id)
    assert head["content-length"] == "13" and head["etag"] == f'"{meta.sha256}"'

    streamed = await u.objects.upload(_chunks(8, 4096))
    assert streamed.size_bytes == 8 * 4096
    parts = [c async for c in u.objects.stream(streamed.id)]
    assert b"".join(parts) == b"".join([bytes([i]) * 4096 for i in range(8)])

    src = tmp_path / "src.bin"
    src.write_bytes(b"x" * 100_000)
    from_path = await u.objects.upload(src, filename="src.bin")
    from_file = await u.objects.upload(io.BytesIO(b"y" * 70_000))
    from_iter = await u.objects.upload(iter([b"a", b"b", b"c"]))
    assert (from_path.size_bytes, from_file.size_bytes) == (100_000, 70_000)
    assert await u.objects.read(from_iter.id) == b"abc"
    dest = tmp_path / "dest.bin"
    assert await u.objects.download(from_path.id, dest) == 100_000
    assert dest.read_bytes() == src.read_bytes()

    listed = await u.objects.list(labels={"kind": "note"})
    assert [m.id for m in listed.items] == [meta.id]
    assert (await u.objects.metadata(meta.id)).sha256 == meta.sha256
    await u.objects.delete(meta.id)
    with pytest.raises(NotFoundError):
        await u.objects.metadata(meta.id)
    with pytest.raises(NotFoundError):
        await u.objects.read(meta.id)


async def test_digest_mismatch_is_refused(u: UnisonClient) -> None:
    with pytest.raises(ValidationError) as err:
        await u.objects.upload(b"abc", sha256="0" * 64)
    assert err.value.status == 422
    assert (await u.objects.list()).items == []


async def test_idempotency_key_stores_one_object(u: UnisonClient) -> None:
    first = await u.objects.upload(b"same", idempotency_key="upload-1")
    second = await u.objects.upload(b"same", idempotency_key="upload-1")
    assert second.id == first.id
    assert len((await u.objects.list()).items) == 1


async def test_presigned_url_downloads_without_a_token(u: UnisonClient, storage_app) -> None:
    meta = await u.objects.upload(b"shared payload")
    link = await u.objects.presign(meta.id, expires_in=60)
    assert link.url.startswith("http://storage/")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=storage_app)) as anon:
        r = await anon.get(link.url)
    assert r.status_code == 200 and r.content == b"shared payload"
