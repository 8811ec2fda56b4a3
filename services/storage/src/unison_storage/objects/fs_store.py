"""Payloads on the local filesystem.

Writes are atomic: a temporary file in the destination directory, fsync, rename, fsync of
the directory, so a crash leaves either the whole payload or a `.tmp-*` file that reconcile
removes; never a truncated payload under a real key. Blocking IO runs in worker threads in
buffers of about 1 MiB, so the event loop keeps serving and memory stays bounded.

Writeback starts while the body streams (Linux `sync_file_range`): each buffer goes to the
disk as soon as it is written, so the closing fsync has almost nothing left to flush
instead of the whole payload. Pages more than `DROP_BEHIND` bytes behind the writer are
dropped from the page cache once on disk: a large upload then reuses a few MiB of warm
pages instead of touching fresh memory for every MiB (measured: the slow, system-time-heavy
uploads disappeared) and does not push other data (PostgreSQL's pages) out of the cache.
Objects under 2 x DROP_BEHIND keep all their pages.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import hashlib
import os
import re
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

from .store import BlobInfo, BlobMissing

IO_CHUNK = 1024 * 1024
# None keeps every page cached (the writeback still starts early).
DROP_BEHIND: int | None = 8 * IO_CHUNK
_MAX_PARTS = 64
_KEY = re.compile(r"^[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*$")
TEMP_PREFIX = ".tmp-"


def _is_key(key: str) -> bool:
    return bool(_KEY.match(key)) and not any(part in (".", "..") for part in key.split("/"))


_SYNC_FILE_RANGE_WAIT_BEFORE = 1
_SYNC_FILE_RANGE_WRITE = 2
_SYNC_FILE_RANGE_WAIT_AFTER = 4
# Errors meaning "not on this kernel / file": the sink falls back to the closing fsync.
_UNSUPPORTED = {errno.ENOSYS, errno.EINVAL, errno.ESPIPE, errno.EOPNOTSUPP}


def _load_sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """libc's sync_file_range (os has none); None where it does not exist."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    fn.restype = ctypes.c_int

    def call(fd: int, offset: int, length: int, flags: int) -> int:
        # CDLL releases the GIL for the call, like os.write.
        return 0 if fn(fd, offset, length, flags) == 0 else ctypes.get_errno()

    return call


sync_file_range = _load_sync_file_range()


def _write_all(fd: int, parts: list[bytes]) -> int:
    total = sum(map(len, parts))
    written = os.writev(fd, parts) if len(parts) > 1 else os.write(fd, parts[0])
    if written < total:  # rare (a signal, a filling disk): write the rest one by one
        rest = memoryview(b"".join(parts))[written:]
        while rest:
            rest = rest[os.write(fd, rest):]
    return total


class _Sink:
    """A temp file's descriptor and running hash, written from worker threads.

    One thread hop per buffer: hash, one writev, start its writeback. The lock makes
    closing safe while a write may still be queued or running in a thread: `close` waits
    for a running write, and a write that starts after `close` does nothing, so no thread
    ever writes to a descriptor number the process reused."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.hasher = hashlib.sha256()
        self.offset = 0  # bytes written
        self.dropped = 0  # bytes on disk and out of the page cache
        self.writeback = sync_file_range
        self._lock = threading.Lock()
        self._closed = False

    def write(self, parts: list[bytes]) -> None:
        with self._lock:
            if self._closed:
                raise OSError("upload sink closed")
            if len(parts) > _MAX_PARTS:  # many tiny reads: one buffer (and writev's limit)
                parts = [b"".join(parts)]
            for part in parts:
                self.hasher.update(part)
            start = self.offset
            self.offset += _write_all(self.fd, parts)
            if self.writeback is not None:
                self._start_writeback(start)

    def _start_writeback(self, start: int) -> None:
        assert self.writeback is not None
        if self._sync(start, self.offset - start, _SYNC_FILE_RANGE_WRITE):
            return
        if DROP_BEHIND is None or self.offset - self.dropped < 2 * DROP_BEHIND:
            return
        upto = self.offset - DROP_BEHIND
        # Long since started, so normally already on disk; waiting here also keeps the
        # dirty pages of one upload bounded when the disk is slower than the network.
        if self._sync(self.dropped, upto - self.dropped,
                      _SYNC_FILE_RANGE_WAIT_BEFORE | _SYNC_FILE_RANGE_WRITE
                      | _SYNC_FILE_RANGE_WAIT_AFTER):
            return
        with contextlib.suppress(OSError):  # only a cache hint
            os.posix_fadvise(self.fd, self.dropped, upto - self.dropped,
                             os.POSIX_FADV_DONTNEED)
        self.dropped = upto

    def _sync(self, offset: int, length: int, flags: int) -> bool:
        """True when writeback is unsupported here (then only the final fsync flushes).
        A real error is raised: waiting consumed it, so the final fsync would not see it."""
        assert self.writeback is not None
        err = self.writeback(self.fd, offset, length, flags)
        if err in _UNSUPPORTED:
            self.writeback = None
            return True
        if err:
            raise OSError(err, os.strerror(err))
        return False

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                os.close(self.fd)


def _retrieve(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FSObjectStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        # Keys are minted by this service; the check is a second line of defence.
        if not _is_key(key):
            raise ValueError("not a storage key")
        return self.root / key

    async def put_stream(self, key: str, chunks: AsyncIterator[bytes]) -> tuple[int, str]:
        final = self._path(key)
        await asyncio.to_thread(final.parent.mkdir, mode=0o700, parents=True, exist_ok=True)
        tmp = final.parent / f"{TEMP_PREFIX}{uuid.uuid4().hex}"
        fd = await asyncio.to_thread(os.open, tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        sink = _Sink(fd)
        size = 0
        parts: list[bytes] = []
        pending = 0
        # Double buffering: while a worker thread hashes and writes one MiB (both release
        # the GIL), the event loop receives the next, so network and disk overlap. At most
        # two buffers exist, and writes stay in order because each waits for the last.
        # A buffer is the list of received chunks, not a copy of them (writev).
        writing: asyncio.Future[None] | None = None
        try:
            async for chunk in chunks:
                # Held until written: a mutable chunk could change under us.
                parts.append(chunk if type(chunk) is bytes else bytes(chunk))
                pending += len(chunk)
                if pending >= IO_CHUNK:
                    data, parts = parts, []
                    size += pending
                    pending = 0
                    if writing is not None:
                        await writing
                    writing = asyncio.ensure_future(asyncio.to_thread(sink.write, data))
                    # Awaited below; on an abort, its late error is not worth a warning.
                    writing.add_done_callback(_retrieve)
            if writing is not None:
                await writing
                writing = None
            if parts:
                size += pending
                await asyncio.to_thread(sink.write, parts)
            await asyncio.to_thread(os.fsync, fd)
        except BaseException:
            # Synchronous on purpose: a cancelled request cannot await its cleanup (the
            # sink's lock waits at most for one buffer being written, and the drop-behind
            # range, started MiBs earlier, reaching the disk).
            sink.close()
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        sink.close()
        try:
            await asyncio.to_thread(os.replace, tmp, final)
            await asyncio.to_thread(_fsync_dir, final.parent)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return size, sink.hasher.hexdigest()

    async def open_range(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        try:
            fd = await asyncio.to_thread(os.open, self._path(key), os.O_RDONLY)
        except FileNotFoundError as exc:
            raise BlobMissing(key) from exc
        return self._read(fd, start, end)

    async def _read(self, fd: int, start: int, end: int) -> AsyncIterator[bytes]:
        try:
            offset = start
            while offset <= end:
                data = await asyncio.to_thread(os.pread, fd, min(IO_CHUNK, end - offset + 1),
                                               offset)
                if not data:
                    break
                offset += len(data)
                yield data
        finally:
            os.close(fd)

    async def head(self, key: str) -> BlobInfo | None:
        try:
            st = await asyncio.to_thread(os.stat, self._path(key))
        except FileNotFoundError:
            return None
        return BlobInfo(key, st.st_size, datetime.fromtimestamp(st.st_mtime, UTC))

    async def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(os.unlink, self._path(key))

    async def list_keys(self, prefix: str = "") -> AsyncIterator[BlobInfo]:
        if not self.root.exists():
            return
        walker = os.walk(self.root)
        while True:
            step = await asyncio.to_thread(next, walker, None)
            if step is None:
                return
            dirpath, _, files = step
            rel_dir = Path(dirpath).relative_to(self.root)
            for name in sorted(files):
                key = (rel_dir / name).as_posix()
                if not key.startswith(prefix) or not _is_key(key):
                    continue  # not a name this store writes: left for an operator
                try:
                    st = await asyncio.to_thread(os.stat, Path(dirpath) / name)
                except FileNotFoundError:
                    continue  # removed while we walked
                yield BlobInfo(key, st.st_size, datetime.fromtimestamp(st.st_mtime, UTC))

    async def abort_stale_uploads(self, started_before: datetime, dry_run: bool) -> int:
        # An interrupted fs upload leaves a temp file, which list_keys reports as an
        # orphan payload: reconcile deletes it with the others.
        return 0

    async def check(self) -> None:
        def probe() -> None:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not os.access(self.root, os.W_OK | os.X_OK):
                raise PermissionError("object root is not writable")

        await asyncio.to_thread(probe)

    async def close(self) -> None:
        return None
