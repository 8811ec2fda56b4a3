"""Object rules: streamed uploads with SHA-256, size limits and quota, scoped reads,
ranges, presigned links.

Order of operations keeps the two stores consistent without a distributed transaction:
upload writes the payload first and inserts the row after (deleting the payload when the
insert fails); delete removes the row first and the payload after. A crash in between
leaves a payload without a row, which `reconcile` removes after a grace period.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import anyio
import orjson

from unison_shared.auth import RequestContext
from unison_shared.database import Database, StatementConnection
from unison_shared.errors import (
    BadRequest,
    Conflict,
    DependencyUnavailable,
    InsufficientStorage,
    NotFound,
    PayloadTooLarge,
    UnisonError,
    ValidationFailed,
)

from ..settings import StorageOptions
from . import idempotency, presign, repository
from .headers import parse_range
from .reconcile import reconcile
from .repository import ListFilter, NewObject, ObjectRow
from .schemas import ObjectMeta, ObjectPage, ReconcileReport
from .store import BlobMissing, ObjectStore, StoreUnavailable, new_storage_key

logger = logging.getLogger("unison.storage.objects")


@dataclass(frozen=True)
class Upload:
    """What a caller says about the body it is about to stream."""

    content_type: str = "application/octet-stream"
    filename: str | None = None
    labels: dict[str, str] | None = None
    content_length: int | None = None
    sha256: str | None = None
    object_id: str | None = None  # legacy callers may choose the id (and re-upload it)
    idempotency_key: str | None = None  # see idempotency.py


@dataclass(frozen=True)
class Stored:
    meta: ObjectMeta
    replayed: bool = False  # a retry answered with the object an earlier attempt stored


@dataclass(frozen=True)
class Download:
    meta: ObjectMeta
    start: int
    end: int  # inclusive; end < start for an empty payload
    partial: bool
    body: AsyncIterator[bytes] | None


def to_meta(row: ObjectRow) -> ObjectMeta:
    # ObjectMeta takes the fields it declares: tenant_id and storage_key stay behind.
    return ObjectMeta.model_validate(row, from_attributes=True)


def _attempt(up: Upload, size: int, sha256: str) -> idempotency.Attempt:
    return idempotency.Attempt(size, sha256, up.content_type, up.filename, up.labels or {})


def _attempt_of(new: NewObject) -> idempotency.Attempt:
    return idempotency.Attempt(new.size_bytes, new.sha256, new.content_type, new.filename,
                               new.labels)


async def _empty() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover - makes this an async generator


async def _limited(chunks: AsyncIterator[bytes], limit: int,
                   too_big: Callable[[int], UnisonError]) -> AsyncIterator[bytes]:
    """Passes the body through, failing as soon as it grows past `limit` bytes."""
    total = 0
    async for chunk in chunks:
        if not chunk:
            continue
        total += len(chunk)
        if total > limit:
            raise too_big(total)
        yield chunk


class ObjectService:
    def __init__(self, db: Database, store: ObjectStore, options: StorageOptions,
                 presign_key: bytes) -> None:
        self.db = db
        self.store = store
        self.options = options
        self.presign_key = presign_key
        self.repo = repository

    # Upload

    def _quota_error(self, used: int, needed: int | None) -> InsufficientStorage:
        quota = self.options.object_quota_bytes
        need = f"{needed} more bytes" if needed is not None else "more than the rest"
        return InsufficientStorage(
            f"quota: the household's object quota is {quota} bytes, {used} are in use and "
            f"this object needs {need}", quota_bytes=quota, used_bytes=used)

    def _max_error(self, size: int) -> PayloadTooLarge:
        return PayloadTooLarge(f"body: {size} bytes or more; objects are limited to "
                               f"{self.options.object_max_bytes} bytes",
                               max_bytes=self.options.object_max_bytes)

    async def upload(self, ctx: RequestContext, chunks: AsyncIterator[bytes],
                     up: Upload) -> Stored:
        max_bytes = self.options.object_max_bytes
        quota = self.options.object_quota_bytes
        if up.content_length is not None and up.content_length > max_bytes:
            raise self._max_error(up.content_length)
        object_id = up.object_id
        if up.idempotency_key is not None:
            object_id = idempotency.object_id_for(ctx.tenant_id, ctx.person_id,
                                                  up.idempotency_key)
            async with self.db.statement(ctx) as conn:
                prior = await self.repo.get(conn, ctx.tenant_id, ctx.person_id, object_id)
            if prior is not None:  # a retry: nothing is stored, so no quota applies
                return await self._replay(prior, chunks, up)
        limit = max_bytes
        used = 0
        if quota > 0:
            # Early refusal; the binding check is repeated under a lock at insert time.
            async with self.db.statement(ctx) as conn:
                used = await self.repo.tenant_usage(conn, ctx.tenant_id)
            remaining = max(0, quota - used)
            if up.content_length is not None and up.content_length > remaining:
                raise self._quota_error(used, up.content_length)
            limit = min(limit, remaining)

        def too_big(seen: int) -> UnisonError:
            return self._max_error(seen) if seen > max_bytes else self._quota_error(used, None)

        key = new_storage_key(ctx.tenant_id)
        try:
            size, sha256 = await self.store.put_stream(key, _limited(chunks, limit, too_big))
        except StoreUnavailable as exc:
            raise DependencyUnavailable("the object store is unavailable") from exc
        old_key: str | None = None
        try:
            self._check_body(up, size, sha256)
            new = NewObject(id=object_id or str(uuid.uuid4()), filename=up.filename,
                            content_type=up.content_type, size_bytes=size, sha256=sha256,
                            labels=up.labels or {}, storage_key=key)
            row, old_key, replayed = await self._insert(
                ctx, new, replace=up.object_id is not None,
                idempotent=up.idempotency_key is not None)
        except BaseException:
            await self._delete_blob(key)
            raise
        # A concurrent attempt with the same key stored first: this payload is not kept.
        unused = key if replayed else old_key
        if unused is not None:
            await self._delete_blob(unused)
        return Stored(to_meta(row), replayed)

    @staticmethod
    def _check_body(up: Upload, size: int, sha256: str) -> None:
        if up.content_length is not None and size != up.content_length:
            raise BadRequest(f"Content-Length: said {up.content_length}, body had {size}")
        if up.sha256 is not None and not hmac.compare_digest(sha256, up.sha256):
            raise ValidationFailed("digest: the body's SHA-256 does not match the digest "
                                   "the request sent", sha256=sha256)

    async def _replay(self, prior: ObjectRow, chunks: AsyncIterator[bytes],
                      up: Upload) -> Stored:
        size, sha256 = await idempotency.digest(chunks, prior.size_bytes)
        self._check_body(up, size, sha256)
        _attempt(up, size, sha256).check_matches(prior)
        return Stored(to_meta(prior), replayed=True)

    async def _insert(self, ctx: RequestContext, new: NewObject, replace: bool,
                      idempotent: bool = False) -> tuple[ObjectRow, str | None, bool]:
        """The row for a stored payload: (row, payload key it replaced, replayed). With
        `idempotent`, an existing row under the same id is an earlier attempt of this
        upload, answered instead of a new row (`replayed`)."""
        quota = self.options.object_quota_bytes
        async with self.db.transaction(ctx) as conn:
            # Checked before the quota: answering an earlier attempt stores nothing.
            if idempotent and (prior := await self._earlier_attempt(conn, ctx, new)):
                return prior, None, True
            used = 0
            if quota > 0:
                await self.repo.lock_tenant_quota(conn, ctx.tenant_id)
                used = await self.repo.tenant_usage(conn, ctx.tenant_id)
            old = await self.repo.get_for_update(conn, ctx.tenant_id, new.id) if replace else None
            if old is not None:
                if old.person_id != ctx.person_id:
                    raise Conflict("id: already used by someone else in this household")
                used -= old.size_bytes
            if quota > 0 and used + new.size_bytes > quota:
                raise self._quota_error(used, new.size_bytes)
            if old is not None:
                return await self.repo.replace(conn, ctx.tenant_id, ctx.person_id, new), \
                    old.storage_key, False
            try:
                return await self.repo.insert(conn, ctx.tenant_id, ctx.person_id, new), \
                    None, False
            except LookupError as exc:
                # The same key's other attempt inserted while this one ran.
                if idempotent and (prior := await self._earlier_attempt(conn, ctx, new)):
                    return prior, None, True
                raise Conflict("id: already in use") from exc

    async def _earlier_attempt(self, conn: StatementConnection, ctx: RequestContext,
                               new: NewObject) -> ObjectRow | None:
        """The object an earlier attempt with this idempotency key stored, if any; 422
        when it was a different upload."""
        prior = await self.repo.get(conn, ctx.tenant_id, ctx.person_id, new.id)
        if prior is not None:
            _attempt_of(new).check_matches(prior)
        return prior

    async def _delete_blob(self, key: str) -> None:
        # Shielded: also runs when the request was cancelled (client went away).
        with anyio.CancelScope(shield=True):
            try:
                await self.store.delete(key)
            except Exception as exc:
                logger.warning("payload delete failed; reconcile will remove it",
                               extra={"error": type(exc).__name__})

    # Reads

    async def _row(self, ctx: RequestContext, object_id: str) -> ObjectRow:
        async with self.db.statement(ctx) as conn:
            row = await self.repo.get(conn, ctx.tenant_id, ctx.person_id, object_id)
        if row is None:
            raise NotFound(f"no object {object_id}")
        return row

    async def get(self, ctx: RequestContext, object_id: str) -> ObjectMeta:
        return to_meta(await self._row(ctx, object_id))

    async def _open(self, row: ObjectRow, range_header: str | None,
                    with_body: bool, if_range: str | None = None) -> Download:
        meta = to_meta(row)
        if if_range is not None and if_range.strip() != meta.etag:
            # RFC 9110 13.1.5: Range applies only while If-Range names the current
            # representation; a stale or unrecognised validator gets the whole payload.
            range_header = None
        span = parse_range(range_header, row.size_bytes)
        start, end = span if span is not None else (0, row.size_bytes - 1)
        body: AsyncIterator[bytes] | None = None
        if with_body:
            if end < start:
                body = _empty()
            else:
                try:
                    body = await self.store.open_range(row.storage_key, start, end)
                except BlobMissing as exc:
                    logger.warning("object row without payload; reconcile will remove it",
                                   extra={"object_id": row.id})
                    raise NotFound(f"object {row.id}: its payload is missing") from exc
                except StoreUnavailable as exc:
                    raise DependencyUnavailable("the object store is unavailable") from exc
        return Download(meta, start, end, span is not None, body)

    async def download(self, ctx: RequestContext, object_id: str, range_header: str | None,
                       with_body: bool = True, if_range: str | None = None) -> Download:
        return await self._open(await self._row(ctx, object_id), range_header, with_body,
                                if_range)

    async def read_all(self, ctx: RequestContext, object_id: str,
                       max_bytes: int) -> tuple[ObjectMeta, bytes]:
        """The whole payload in memory: for the legacy base64 API, bounded by max_bytes."""
        row = await self._row(ctx, object_id)
        if row.size_bytes > max_bytes:
            raise PayloadTooLarge(f"object {object_id} is {row.size_bytes} bytes; this API "
                                  f"returns at most {max_bytes}")
        dl = await self._open(row, None, True)
        assert dl.body is not None
        return dl.meta, b"".join([chunk async for chunk in dl.body])

    async def delete(self, ctx: RequestContext, object_id: str) -> None:
        async with self.db.statement(ctx) as conn:
            key = await self.repo.delete(conn, ctx.tenant_id, ctx.person_id, object_id)
        if key is None:
            raise NotFound(f"no object {object_id}")
        await self._delete_blob(key)

    async def list(self, ctx: RequestContext, filters: ListFilter, cursor: str | None,
                   limit: int) -> ObjectPage:
        after = _decode_cursor(cursor) if cursor else None
        async with self.db.statement(ctx) as conn:
            rows = await self.repo.list_objects(conn, ctx.tenant_id, ctx.person_id, filters,
                                                after, limit + 1)
        items = [to_meta(r) for r in rows[:limit]]
        next_cursor = _encode_cursor(rows[limit - 1]) if len(rows) > limit else None
        return ObjectPage(items=items, next_cursor=next_cursor)

    # Presigned links

    async def presign(self, ctx: RequestContext, object_id: str,
                      expires_in: int) -> tuple[str, datetime]:
        cap = self.options.presign_max_seconds
        if expires_in > cap:
            raise ValidationFailed(f"expires_in: at most {cap} seconds")
        row = await self._row(ctx, object_id)  # 404 unless the caller may read it
        expires = int(time.time()) + expires_in
        tag = presign.blob_tag(row.storage_key)
        return (presign.download_path(self.presign_key, ctx.tenant_id, object_id, expires,
                                      tag),
                datetime.fromtimestamp(expires, UTC))

    async def presigned_download(self, tenant: str, object_id: str, expires: int, tag: str,
                                 sig: str, range_header: str | None,
                                 with_body: bool = True,
                                 if_range: str | None = None) -> Download:
        presign.verify(self.presign_key, tenant, object_id, expires, tag, sig)
        async with self.db.in_tenant(tenant) as conn:
            row = await self.repo.get_in_tenant(conn, tenant, object_id)
        if row is None or presign.blob_tag(row.storage_key) != tag:
            raise NotFound(f"no object {object_id}")
        return await self._open(row, range_header, with_body, if_range)

    # Maintenance

    async def reconcile(self, dry_run: bool = False,
                        grace_seconds: float = 3600) -> ReconcileReport:
        return await reconcile(self.db, self.store, dry_run, grace_seconds)


def _encode_cursor(row: ObjectRow) -> str:
    raw = orjson.dumps([row.created_at.isoformat(), row.id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, object_id = orjson.loads(raw)
        return datetime.fromisoformat(at), str(object_id)
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError) as exc:
        raise BadRequest("cursor: not one this service issued") from exc
