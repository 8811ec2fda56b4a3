"""Files surface: paths stored, overwritten, read by range, listed like S3, presigned."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import httpx
import pytest

from unison_client import NotFoundError, UnisonClient, ValidationError


async def _parts() -> AsyncIterator[bytes]:
    for i in range(4):
        yield bytes([65 + i]) * 1000


async def test_put_read_overwrite_delete(u: UnisonClient, tmp_path) -> None:
    first = await u.files.put("reports/2026/q1.txt", b"first draft",
                              content_type="text/plain")
    assert (first.path, first.size_bytes) == ("reports/2026/q1.txt", 11)
    assert await u.files.read("reports/2026/q1.txt") == b"first draft"
    assert await u.files.read("reports/2026/q1.txt", start=6) == b"draft"
    body = b"final version"
    second = await u.files.put("reports/2026/q1.txt", body,
                               sha256=hashlib.sha256(body).hexdigest())
    assert second.object_id != first.object_id
    assert await u.files.read("reports/2026/q1.txt") == body
    head = await u.files.head("reports/2026/q1.txt")
    assert head["content-length"] == str(len(body))

    streamed = await u.files.put("big/parts.bin", _parts())
    assert streamed.size_bytes == 4000
    chunks = [c async for c in u.files.stream("big/parts.bin")]
    assert b"".join(chunks) == b"A" * 1000 + b"B" * 1000 + b"C" * 1000 + b"D" * 1000
    dest = tmp_path / "copy.bin"
    assert await u.files.download("big/parts.bin", dest) == 4000
    src = tmp_path / "notes with space.md"
    src.write_text("# notes\n")
    await u.files.put("docs/notes with space.md", src)
    assert await u.files.read("docs/notes with space.md") == b"# notes\n"

    deleted = await u.files.delete("reports/2026/q1.txt")
    assert deleted.path == "reports/2026/q1.txt" and deleted.payload_deleted
    with pytest.raises(NotFoundError):
        await u.files.read("reports/2026/q1.txt")


async def test_listing_with_common_prefixes(u: UnisonClient) -> None:
    for path in ("a/1.txt", "a/2.txt", "a/deep/3.txt", "b/4.txt", "top.txt"):
        await u.files.put(path, path.encode())
    root = await u.files.list(delimiter="/")
    assert [f.path for f in root.items] == ["top.txt"]
    assert root.common_prefixes == ["a/", "b/"]
    under_a = await u.files.list(prefix="a/", delimiter="/")
    assert [f.path for f in under_a.items] == ["a/1.txt", "a/2.txt"]
    assert under_a.common_prefixes == ["a/deep/"]
    page = await u.files.list(limit=2)
    assert len(page.items) == 2 and page.next_cursor
    rest = await u.files.list(cursor=page.next_cursor, limit=10)
    assert len(page.items) + len(rest.items) == 5


async def test_bad_paths_are_refused(u: UnisonClient) -> None:
    # The client escapes dot segments, so the URL is not normalised into another path.
    for bad in ("a//b.txt", "a/../b.txt", "./b.txt"):
        with pytest.raises(ValidationError) as err:
            await u.files.put(bad, b"x")
        assert err.value.status == 422 and "path" in err.value.detail
    assert (await u.files.list()).items == []


async def test_presigned_file_link(u: UnisonClient, storage_app) -> None:
    await u.files.put("share/me.txt", b"shared")
    link = await u.files.presign("share/me.txt", expires_in=60)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=storage_app)) as anon:
        r = await anon.get(link.url)
    assert r.status_code == 200 and r.content == b"shared"
