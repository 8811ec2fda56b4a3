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


def _write_and_hash(fd: int, hasher: hashlib._Hash, data: bytearray) -> None:
    view = memoryview(data)
    hasher.update(view)
    while view:
        written = os.write(fd, view)
        view = view[written:]


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
        hasher = hashlib.sha256()
        size = 0
        buf = bytearray()
        try:
            async for chunk in chunks:
                buf += chunk
                if len(buf) >= IO_CHUNK:
                    data, buf = buf, bytearray()
                    size += len(data)
                    await asyncio.to_thread(_write_and_hash, fd, hasher, data)
            if buf:
                size += len(buf)
                await asyncio.to_thread(_write_and_hash, fd, hasher, buf)
            await asyncio.to_thread(os.fsync, fd)
        except BaseException:
            # Synchronous on purpose: a cancelled request cannot await its cleanup.
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        os.close(fd)
        try:
            await asyncio.to_thread(os.replace, tmp, final)
            await asyncio.to_thread(_fsync_dir, final.parent)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return size, hasher.hexdigest()

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
