"""File rules: a person's path names the latest object uploaded to it.

Content goes through the objects service (streamed upload with SHA-256, size limit and
quota; ranged download; presigned links), labelled `kind=file` and named after the
path's last segment. The path's row in `files` then points at the new object, under a
per-path lock, and the object it pointed at before is released: deleted (row now, blob
after the commit) unless another record still references it (threads/payloads.py lists
every referencing table, `files` included). A failed mapping deletes the new object.
Deleting an object through /v1/objects removes the path with it (foreign key cascade).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime

import anyio

from unison_shared.auth import RequestContext
from unison_shared.database import Database
from unison_shared.errors import BadRequest, NotFound

from ..objects.service import Download, ObjectService, Upload
from ..threads import cursor as cursors
from ..threads.payloads import Payloads
from . import repository as repo
from .paths import after, basename, check_path, check_prefix, successor
from .repository import FileRow
from .schemas import FileDeleted, FileMeta, FilePage

_CURSOR = "f"


def to_meta(row: FileRow) -> FileMeta:
    return FileMeta.model_validate(row, from_attributes=True)


def missing(path: str) -> NotFound:
    return NotFound(f"no file {path}")


class FileService:
    def __init__(self, db: Database, objects: ObjectService, payloads: Payloads) -> None:
        self.db = db
        self.objects = objects
        self.payloads = payloads

    async def put(self, ctx: RequestContext, path: str, chunks: AsyncIterator[bytes],
                  up: Upload) -> tuple[FileMeta, bool]:
        """Stores the body under `path`; (the file, whether the path was new)."""
        check_path(path)
        stored = await self.objects.upload(ctx, chunks, replace(
            up, filename=basename(path), labels={"kind": "file"}, idempotency_key=None))
        object_id = stored.meta.id
        try:
            async with self.payloads.transaction(ctx) as (conn, txn):
                await repo.lock_path(conn, ctx.tenant_id, ctx.person_id, path)
                old = await repo.object_of(conn, ctx.tenant_id, ctx.person_id, path)
                row = await repo.put(conn, ctx.tenant_id, ctx.person_id, path, object_id)
                if old is not None and old != object_id:
                    await self.payloads.release(conn, txn, ctx.tenant_id, {old})
        except BaseException:
            with anyio.CancelScope(shield=True):
                with contextlib.suppress(NotFound):
                    await self.objects.delete(ctx, object_id)
            raise
        return to_meta(row), old is None

    async def _object_id(self, ctx: RequestContext, path: str) -> str:
        check_path(path)
        async with self.db.statement(ctx) as conn:
            object_id = await repo.object_of(conn, ctx.tenant_id, ctx.person_id, path)
        if object_id is None:
            raise missing(path)
        return object_id

    async def download(self, ctx: RequestContext, path: str, range_header: str | None,
                       with_body: bool = True, if_range: str | None = None) -> Download:
        try:
            return await self.objects.download(ctx, await self._object_id(ctx, path),
                                               range_header, with_body, if_range)
        except NotFound:
            # Overwritten between the lookup and the read: the new content, once.
            return await self.objects.download(ctx, await self._object_id(ctx, path),
                                               range_header, with_body, if_range)

    async def delete(self, ctx: RequestContext, path: str) -> FileDeleted:
        check_path(path)
        async with self.payloads.transaction(ctx) as (conn, txn):
            await repo.lock_path(conn, ctx.tenant_id, ctx.person_id, path)
            object_id = await repo.delete(conn, ctx.tenant_id, ctx.person_id, path)
            if object_id is None:
                raise missing(path)
            gone = await self.payloads.release(conn, txn, ctx.tenant_id, {object_id})
        return FileDeleted(path=path, payload_deleted=gone > 0)

    async def presign(self, ctx: RequestContext, path: str,
                      expires_in: int) -> tuple[str, FileMeta, datetime]:
        object_id = await self._object_id(ctx, path)
        url_path, expires_at = await self.objects.presign(ctx, object_id, expires_in)
        async with self.db.statement(ctx) as conn:
            row = await repo.get(conn, ctx.tenant_id, ctx.person_id, path)
        if row is None:
            raise missing(path)
        return url_path, to_meta(row), expires_at

    async def list(self, ctx: RequestContext, prefix: str, delimiter: str | None,
                   cursor: str | None, limit: int) -> FilePage:
        """S3-style: files under `prefix` in byte order of their paths; with a delimiter,
        every path with a delimiter after the prefix counts once, as its common prefix."""
        check_prefix(prefix)
        lower = prefix
        if cursor:
            start, for_prefix, for_delimiter = cursors.decode(_CURSOR, cursor, 3)
            if for_prefix != prefix or for_delimiter != delimiter or not isinstance(start, str):
                raise BadRequest("cursor: belongs to another prefix or delimiter")
            lower = max(lower, start)
        upper = successor(prefix)
        items: list[FileMeta] = []
        prefixes: list[str] = []
        more = False
        batch = min(1000, limit + 1)
        async with self.db.statement(ctx) as conn:
            while not more:
                rows = await repo.scan(conn, ctx.tenant_id, ctx.person_id, lower, upper, batch)
                for row in rows:
                    if row.path < lower:
                        continue  # under a common prefix already listed
                    if len(items) + len(prefixes) >= limit:
                        more = True
                        break
                    rest = row.path[len(prefix):]
                    cut = rest.find(delimiter) if delimiter else -1
                    if delimiter and cut >= 0:
                        common = prefix + rest[:cut + len(delimiter)]
                        prefixes.append(common)
                        lower = successor(common) or common
                    else:
                        items.append(to_meta(row))
                        lower = after(row.path)
                if len(rows) < batch:
                    break
        next_cursor = cursors.encode(_CURSOR, lower, prefix, delimiter) if more else None
        return FilePage(items=items, common_prefixes=prefixes, next_cursor=next_cursor)
