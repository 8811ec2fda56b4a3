"""Objects: streamed upload (bytes, a file, an iterator) and download, presigned links."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from .._http import route
from ..models import ObjectMeta, ObjectPage, PresignBody, PresignedURL
from ._base import Surface, body, parse

OBJ_UPLOAD = route("POST", "/v1/objects")
OBJ_LIST = route("GET", "/v1/objects")
OBJ_GET = route("GET", "/v1/objects/{object_id}")
OBJ_HEAD = route("HEAD", "/v1/objects/{object_id}")
OBJ_METADATA = route("GET", "/v1/objects/{object_id}/metadata")
OBJ_DELETE = route("DELETE", "/v1/objects/{object_id}")
OBJ_PRESIGN = route("POST", "/v1/objects/{object_id}/presign")

CHUNK = 1 << 16
Source = bytes | str | os.PathLike[str] | IO[bytes] | AsyncIterable[bytes] | Iterable[bytes]


async def _read_file(path: Path) -> AsyncIterator[bytes]:
    fh = await asyncio.to_thread(path.open, "rb")
    try:
        while chunk := await asyncio.to_thread(fh.read, CHUNK):
            yield chunk
    finally:
        await asyncio.to_thread(fh.close)


async def _read_stream(fh: IO[bytes]) -> AsyncIterator[bytes]:
    while chunk := await asyncio.to_thread(fh.read, CHUNK):
        yield chunk


async def _from_sync(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def _body(source: Source) -> tuple[Callable[[], Any], bool]:
    """A factory of the request body, and whether it can be sent again (a retry)."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        return (lambda: data), True
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        return (lambda: _read_file(path)), True
    if isinstance(source, AsyncIterable):
        return (lambda: source), False
    if hasattr(source, "read"):
        fh: IO[bytes] = source  # type: ignore[assignment]
        return (lambda: _read_stream(fh)), False
    return (lambda: _from_sync(source)), False


def _range(start: int | None, end: int | None) -> dict[str, str] | None:
    if start is None and end is None:
        return None
    return {"Range": f"bytes={start or 0}-{'' if end is None else end}"}


class Objects(Surface):
    """Binary objects of any size, streamed both ways."""

    async def upload(
        self,
        source: Source,
        *,
        content_type: str = "application/octet-stream",
        filename: str | None = None,
        labels: dict[str, str] | None = None,
        sha256: str | None = None,
        idempotency_key: str | None = None,
    ) -> ObjectMeta:
        """Stream `source` (bytes, a path, a binary file, or a sync/async iterator of
        bytes) to the store. `sha256` (hex): the service refuses a payload that differs.
        `idempotency_key`: a retry stores one object; bytes and paths are then retried
        on a lost connection (an iterator cannot be replayed, so it never is)."""
        factory, replayable = _body(source)
        headers = {"Content-Type": content_type}
        if filename is not None:
            headers["X-Filename"] = filename
        if sha256 is not None:
            headers["X-Content-SHA256"] = sha256
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        query = [("label", f"{k}:{v}") for k, v in (labels or {}).items()]
        r = await self._http.request(
            OBJ_UPLOAD,
            query=query,
            content=factory,
            headers=headers,
            idempotent=replayable and idempotency_key is not None,
        )
        return parse(ObjectMeta, r.content)

    async def stream(
        self, object_id: str, *, start: int | None = None, end: int | None = None
    ) -> AsyncIterator[bytes]:
        """The payload (or bytes start..end inclusive) in chunks, as they arrive."""
        async with self._http.stream(
            OBJ_GET, {"object_id": object_id}, headers=_range(start, end)
        ) as response:
            async for chunk in response.aiter_bytes():
                yield chunk

    async def read(
        self, object_id: str, *, start: int | None = None, end: int | None = None
    ) -> bytes:
        """The whole payload (or a range) in memory."""
        r = await self._http.request(OBJ_GET, {"object_id": object_id}, headers=_range(start, end))
        return r.content

    async def download(self, object_id: str, path: str | os.PathLike[str]) -> int:
        """Stream the payload into a file; the number of bytes written."""
        written = 0
        fh = await asyncio.to_thread(Path(path).open, "wb")
        try:
            async for chunk in self.stream(object_id):
                await asyncio.to_thread(fh.write, chunk)
                written += len(chunk)
        finally:
            await asyncio.to_thread(fh.close)
        return written

    async def metadata(self, object_id: str) -> ObjectMeta:
        r = await self._http.request(OBJ_METADATA, {"object_id": object_id})
        return parse(ObjectMeta, r.content)

    async def head(self, object_id: str) -> dict[str, str]:
        """The download's headers (size, type, ETag) without the payload."""
        r = await self._http.request(OBJ_HEAD, {"object_id": object_id})
        return dict(r.headers)

    async def list(
        self,
        *,
        content_type: str | None = None,
        labels: dict[str, str] | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> ObjectPage:
        query: list[tuple[str, Any]] = [
            ("content_type", content_type),
            ("created_after", created_after),
            ("created_before", created_before),
            ("cursor", cursor),
            ("limit", limit),
        ]
        query += [("label", f"{k}:{v}") for k, v in (labels or {}).items()]
        r = await self._http.request(OBJ_LIST, query=query)
        return parse(ObjectPage, r.content)

    async def delete(self, object_id: str) -> None:
        await self._http.request(OBJ_DELETE, {"object_id": object_id})

    async def presign(self, object_id: str, *, expires_in: int = 900) -> PresignedURL:
        """A download URL that works without a token until it expires."""
        r = await self._http.request(
            OBJ_PRESIGN,
            {"object_id": object_id},
            json=body(PresignBody.model_construct(expires_in=expires_in)),
            idempotent=True,
        )
        return parse(PresignedURL, r.content)
