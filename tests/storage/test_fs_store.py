"""The filesystem payload store on its own: double-buffered writes keep the bytes and
their order, and an upload that breaks or is cancelled leaves no file behind."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from unison_storage.objects.fs_store import IO_CHUNK, FSObjectStore


async def _chunks(parts: list[bytes], fail_after: int | None = None,
                  pause: float = 0.0) -> AsyncIterator[bytes]:
    for i, part in enumerate(parts):
        if fail_after is not None and i == fail_after:
            raise ConnectionResetError("client went away")
        if pause:
            await asyncio.sleep(pause)
        yield part


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


async def test_odd_chunks_over_several_buffers_keep_every_byte_in_order(tmp_path: Path):
    store = FSObjectStore(tmp_path)
    # Uneven sizes so buffer boundaries never line up with chunk boundaries.
    parts = [os.urandom(n) for n in (1, 70_000, IO_CHUNK + 3, 5, 2 * IO_CHUNK - 1, 333_333)]
    body = b"".join(parts)
    size, digest = await store.put_stream("t/a/blob", _chunks(parts))
    assert size == len(body)
    assert digest == hashlib.sha256(body).hexdigest()
    assert (tmp_path / "t/a/blob").read_bytes() == body
    assert _files(tmp_path) == ["t/a/blob"]


async def test_a_broken_stream_leaves_no_temp_file(tmp_path: Path):
    store = FSObjectStore(tmp_path)
    parts = [os.urandom(IO_CHUNK)] * 5
    with pytest.raises(ConnectionResetError):
        await store.put_stream("t/b/blob", _chunks(parts, fail_after=3))
    assert _files(tmp_path) == []


async def test_a_cancelled_upload_leaves_no_temp_file(tmp_path: Path):
    store = FSObjectStore(tmp_path)
    parts = [os.urandom(IO_CHUNK)] * 50
    task = asyncio.create_task(store.put_stream("t/c/blob", _chunks(parts, pause=0.01)))
    await asyncio.sleep(0.1)  # several MiB in: a write is usually in flight
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.05)  # a write queued before the cancel would have run by now
    assert _files(tmp_path) == []
