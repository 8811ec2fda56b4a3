"""Path-addressed files: a path names the latest content stored under it."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

from .._http import route
from ..models import FileDeleted, FileMeta, FilePage, FilePresign, PresignedURL
from ._base import Surface, body, parse
from .objects import Source, _body, _range

_F = "/v1/files/{path}"
_PATH = ("path",)
FILE_PUT = route("PUT", _F, slash_params=_PATH)
FILE_GET = route("GET", _F, slash_params=_PATH)
FILE_HEAD = route("HEAD", _F, slash_params=_PATH)
FILE_DELETE = route("DELETE", _F, slash_params=_PATH)
FILE_LIST = route("GET", "/v1/files")
FILE_PRESIGN = route("POST", "/v1/files/presign")


class Files(Surface):
    """`path` is like `reports/2026/q1.pdf`: no `..`, no empty segments."""

    async def put(self, path: str, source: Source, *,
                  content_type: str = "application/octet-stream",
                  sha256: str | None = None) -> FileMeta:
        """Stream `source` (as for objects.upload) to the path, replacing what it named.
        An overwrite is safe to repeat, so bytes and paths are retried on a lost
        connection; an iterator is sent once."""
        factory, replayable = _body(source)
        headers = {"Content-Type": content_type}
        if sha256 is not None:
            headers["X-Content-SHA256"] = sha256
        r = await self._http.request(FILE_PUT, {"path": path}, content=factory,
                                     headers=headers, idempotent=replayable)
        return parse(FileMeta, r.content)

    async def read(self, path: str, *, start: int | None = None,
                   end: int | None = None) -> bytes:
        r = await self._http.request(FILE_GET, {"path": path}, headers=_range(start, end))
        return r.content

    async def stream(self, path: str, *, start: int | None = None,
                     end: int | None = None) -> AsyncIterator[bytes]:
        async with self._http.stream(FILE_GET, {"path": path},
                                     headers=_range(start, end)) as response:
            async for chunk in response.aiter_bytes():
                yield chunk

    async def download(self, path: str, dest: str | os.PathLike[str]) -> int:
        """Stream the content into a local file; the number of bytes written."""
        written = 0
        fh = await asyncio.to_thread(Path(dest).open, "wb")
        try:
            async for chunk in self.stream(path):
                await asyncio.to_thread(fh.write, chunk)
                written += len(chunk)
        finally:
            await asyncio.to_thread(fh.close)
        return written

    async def head(self, path: str) -> dict[str, str]:
        r = await self._http.request(FILE_HEAD, {"path": path})
        return dict(r.headers)

    async def delete(self, path: str) -> FileDeleted:
        r = await self._http.request(FILE_DELETE, {"path": path})
        return parse(FileDeleted, r.content)

    async def list(self, *, prefix: str = "", delimiter: str | None = None,
                   cursor: str | None = None, limit: int = 100) -> FilePage:
        """Paths under `prefix`; with `delimiter="/"`, deeper paths are folded into
        `common_prefixes` (S3-style folders)."""
        r = await self._http.request(FILE_LIST, query={
            "prefix": prefix, "delimiter": delimiter, "cursor": cursor, "limit": limit})
        return parse(FilePage, r.content)

    async def presign(self, path: str, *, expires_in: int = 900) -> PresignedURL:
        """A download link for what the path names now (an overwrite breaks it)."""
        model = FilePresign.model_construct(path=path, expires_in=expires_in)
        r = await self._http.request(FILE_PRESIGN, json=body(model), idempotent=True)
        return parse(PresignedURL, r.content)
