"""The filesystem payload store on its own: double-buffered writes keep the bytes and
their order, and an upload that breaks or is cancelled leaves no file behind; writeback
starts per buffer and large uploads drop their pages behind the writer."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import sys
import time
from collections.abc import AsyncIterator
from itertools import pairwise
from pathlib import Path

import pytest

from unison_storage.objects import fs_store
from unison_storage.objects.fs_store import DROP_BEHIND, IO_CHUNK, FSObjectStore


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


class _Recorder:
    """Stands in for libc's sync_file_range: records each call, then runs the real one
    (where there is one) unless told to answer with an errno."""

    def __init__(self, fail: dict[int, int] | None = None, delay: float = 0.0) -> None:
        self.calls: list[tuple[int, int, int]] = []
        self.fail = fail or {}  # flags -> errno to answer
        self.delay = delay
        self.real = fs_store.sync_file_range

    def __call__(self, fd: int, offset: int, length: int, flags: int) -> int:
        self.calls.append((offset, length, flags))
        if self.delay and flags != WRITE:
            time.sleep(self.delay)
        if flags in self.fail:
            return self.fail[flags]
        return self.real(fd, offset, length, flags) if self.real else 0


WRITE = 2
WAIT_WRITE_WAIT = 7
CHUNK = 256_000  # what uvicorn hands the app per socket read


def _body(mib: int) -> list[bytes]:
    block = os.urandom(CHUNK)
    n = mib * IO_CHUNK // CHUNK
    return [block[i % 7:] + block[:i % 7] for i in range(n)]  # not all alike


def test_sync_file_range_is_available_on_linux():
    # The fast path must not silently vanish where the benchmark runs.
    if sys.platform.startswith("linux"):
        assert fs_store.sync_file_range is not None
        fd = os.open(os.devnull, os.O_WRONLY)
        try:
            assert fs_store.sync_file_range(fd, 0, 0, WRITE) in (0, errno.ESPIPE,
                                                                   errno.EINVAL)
        finally:
            os.close(fd)


async def test_writeback_starts_per_buffer_and_pages_are_dropped_behind(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    rec = _Recorder()
    monkeypatch.setattr(fs_store, "sync_file_range", rec)
    store = FSObjectStore(tmp_path)
    parts = _body(24)
    body = b"".join(parts)
    size, digest = await store.put_stream("t/w/blob", _chunks(parts))
    assert (size, digest) == (len(body), hashlib.sha256(body).hexdigest())
    assert (tmp_path / "t/w/blob").read_bytes() == body
    # Every written byte had its writeback started, in order, one call per buffer.
    starts = [(o, n) for o, n, f in rec.calls if f == WRITE]
    assert starts[0][0] == 0
    assert all(a[0] + a[1] == b[0] for a, b in pairwise(starts))
    assert starts[-1][0] + starts[-1][1] == len(body)
    assert len(starts) <= len(body) // IO_CHUNK + 1
    # Waited-for (then dropped) ranges run from 0, contiguous, and stay DROP_BEHIND back.
    drops = [(o, n) for o, n, f in rec.calls if f == WAIT_WRITE_WAIT]
    assert drops and drops[0][0] == 0
    assert all(a[0] + a[1] == b[0] for a, b in pairwise(drops))
    assert drops[-1][0] + drops[-1][1] <= len(body) - DROP_BEHIND


async def test_small_objects_keep_their_pages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    rec = _Recorder()
    monkeypatch.setattr(fs_store, "sync_file_range", rec)
    parts = _body(2 * DROP_BEHIND // IO_CHUNK - 1)
    await FSObjectStore(tmp_path).put_stream("t/s/blob", _chunks(parts))
    assert rec.calls and all(f == WRITE for _, _, f in rec.calls)


async def test_unsupported_writeback_falls_back_to_the_final_fsync(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    rec = _Recorder(fail={WRITE: errno.ENOSYS})
    monkeypatch.setattr(fs_store, "sync_file_range", rec)
    parts = _body(20)
    size, digest = await FSObjectStore(tmp_path).put_stream("t/u/blob", _chunks(parts))
    body = b"".join(parts)
    assert (size, digest) == (len(body), hashlib.sha256(body).hexdigest())
    assert len(rec.calls) == 1  # tried once, then left to fsync
    assert (tmp_path / "t/u/blob").read_bytes() == body


async def test_a_writeback_error_fails_the_upload_and_leaves_no_temp_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # Waiting consumes the error, so a later fsync would not report it: it must raise.
    monkeypatch.setattr(fs_store, "sync_file_range", _Recorder(fail={WAIT_WRITE_WAIT: errno.EIO}))
    with pytest.raises(OSError, match=os.strerror(errno.EIO)) as info:
        await FSObjectStore(tmp_path).put_stream("t/e/blob", _chunks(_body(24)))
    assert info.value.errno == errno.EIO
    assert _files(tmp_path) == []


async def test_a_cancel_while_waiting_for_writeback_leaves_no_temp_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    rec = _Recorder(delay=0.2)
    monkeypatch.setattr(fs_store, "sync_file_range", rec)
    task = asyncio.create_task(FSObjectStore(tmp_path).put_stream("t/k/blob",
                                                                  _chunks(_body(64))))
    while not any(f == WAIT_WRITE_WAIT for _, _, f in rec.calls):
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.3)
    assert _files(tmp_path) == []


async def test_short_writes_tiny_and_mutable_chunks_keep_every_byte(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    real_writev = os.writev

    def short_writev(fd: int, buffers: list[bytes]) -> int:
        return real_writev(fd, [memoryview(buffers[0])[: max(1, len(buffers[0]) // 2)]])

    monkeypatch.setattr(os, "writev", short_writev)

    async def mutating() -> AsyncIterator[bytes]:
        buf = bytearray(300)
        for i in range(5000):  # far more chunks per buffer than writev takes at once
            buf[:] = bytes([i % 251]) * 300
            yield buf  # type: ignore[misc]  # a producer reusing its buffer
        for part in _body(2):
            yield part

    expected = b"".join(bytes([i % 251]) * 300 for i in range(5000))
    size, digest = await FSObjectStore(tmp_path).put_stream("t/m/blob", mutating())
    stored = (tmp_path / "t/m/blob").read_bytes()
    assert stored[:len(expected)] == expected
    assert size == len(stored) == len(expected) + 2 * IO_CHUNK // CHUNK * CHUNK
    assert digest == hashlib.sha256(stored).hexdigest()
