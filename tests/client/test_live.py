"""Over real HTTP against a live storage process: configuration from the environment,
large streamed transfers, presigned links, and the synchronous facade."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import httpx
import pytest

from unison_client import NotFoundError, SyncUnisonClient, UnisonClient

MIB = 1 << 20


async def _generated(total: int, chunk: int = 256 * 1024) -> AsyncIterator[bytes]:
    for i in range(total // chunk):
        yield hashlib.sha256(str(i).encode()).digest() * (chunk // 32)


async def test_configured_from_the_environment(live_storage, alice, monkeypatch) -> None:
    monkeypatch.setenv("UNISON_STORAGE_URL", live_storage)
    monkeypatch.setenv("UNISON_TOKEN", alice.token)
    async with UnisonClient() as c:
        assert c.urls["storage"] == live_storage
        assert (await c.whoami()).tenant_id == alice.household_id


async def test_large_streamed_upload_and_download(live_storage, alice) -> None:
    size = 12 * MIB
    expected = hashlib.sha256()
    async for chunk in _generated(size):
        expected.update(chunk)
    async with UnisonClient(storage_url=live_storage, token=alice.token) as c:
        meta = await c.objects.upload(_generated(size), content_type="application/x-test",
                                      sha256=expected.hexdigest())
        assert meta.size_bytes == size and meta.sha256 == expected.hexdigest()
        got, chunks = hashlib.sha256(), 0
        async for chunk in c.objects.stream(meta.id):
            got.update(chunk)
            chunks += 1
        assert got.hexdigest() == meta.sha256 and chunks > 1
        tail = await c.objects.read(meta.id, start=size - 10)
        assert len(tail) == 10
        link = await c.objects.presign(meta.id, expires_in=60)
    assert link.url.startswith(live_storage)
    async with httpx.AsyncClient() as anon:
        r = await anon.get(link.url, headers={"Range": "bytes=0-31"})
    assert r.status_code == 206 and len(r.content) == 32


def test_sync_facade(live_storage, alice, tmp_path) -> None:
    with SyncUnisonClient(storage_url=live_storage, token=alice.token) as u:
        assert u.whoami().person_id == alice.person_id
        u.vault.put("db/password", "hunter2")
        assert u.vault.value("db/password") == "hunter2"
        u.cache.set_json("session", {"n": 1}, ttl=30)
        assert u.cache.get_json("session") == {"n": 1}
        src = tmp_path / "report.txt"
        src.write_bytes(b"line\n" * 1000)
        meta = u.objects.upload(src, content_type="text/plain")
        assert b"".join(u.objects.stream(meta.id)) == src.read_bytes()
        with pytest.raises(NotFoundError):
            u.kv.get("ns", "absent")
        t = u.threads.create("script")
        u.messages.append(t.id, "user", "hi")
        assert [m.content for m in u.messages.list(t.id).items] == ["hi"]


def test_sync_facade_has_every_surface() -> None:
    from unison_client.surfaces._base import Surface

    c = UnisonClient(token="")
    surfaces = {name for name, value in vars(c).items() if isinstance(value, Surface)}
    assert surfaces == set(SyncUnisonClient.SURFACES)
    assert len(surfaces) == 16
