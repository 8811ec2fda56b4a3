"""Payloads on the local filesystem.

Writes are atomic: a temporary file in the destination directory, fsync, rename, fsync of
the directory, so a crash leaves either the whole payload or a `.tmp-*` file that reconcile
removes; never a truncated payload under a real key. Blocking IO runs in worker threads in
chunks of about 1 MiB, so the event loop keeps serving and memory stays bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import threading
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from .store import BlobInfo, BlobMissing

IO_CHUNK = 1024 * 1024
_KEY = re.compile(r"^[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*$")
TEMP_PREFIX = ".tmp-"


def _is_key(key: str) -> bool:
    return bool(_KEY.match(key)) and not any(part in (".", "..") for part in key.split("/"))


class _Sink:
    """A temp file's descriptor and running hash, written from worker threads.

    The lock makes closing safe while a write may still be queued or running in a
    thread: `close` waits for a running write, and a write that starts after `close`
    does nothing, so no thread ever writes to a descriptor number the process reused."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.hasher = hashlib.sha256()
        self._lock = threading.Lock()
        self._closed = False

    def write(self, data: bytearray) -> None:
        with self._lock:
            if self._closed:
                raise OSError("upload sink closed")
            view = memoryview(data)
            self.hasher.update(view)
            while view:
                written = os.write(self.fd, view)
                view = view[written:]

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
        buf = bytearray()
        # Double buffering: while a worker thread hashes and writes one MiB (both release
        # the GIL), the event loop receives the next, so network and disk overlap. At most
        # two buffers exist, and writes stay in order because each waits for the last.
        writing: asyncio.Future[None] | None = None
        try:
            async for chunk in chunks:
                buf += chunk
                if len(buf) >= IO_CHUNK:
                    data, buf = buf, bytearray()
                    size += len(data)
                    if writing is not None:
                        await writing
                    writing = asyncio.ensure_future(asyncio.to_thread(sink.write, data))
                    # Awaited below; on an abort, its late error is not worth a warning.
                    writing.add_done_callback(_retrieve)
            if writing is not None:
                await writing
                writing = None
            if buf:
                size += len(buf)
                await asyncio.to_thread(sink.write, buf)
            await asyncio.to_thread(os.fsync, fd)
        except BaseException:
            # Synchronous on purpose: a cancelled request cannot await its cleanup (the
            # sink's lock waits at most for one MiB being written).
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
