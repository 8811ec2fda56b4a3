"""Payloads of agent-runtime records, kept as rows of `objects` with their bytes in the
object store: large message content and artifact bytes addressed by SHA-256 (identical
content of one person is stored once), large sealed states one object per version.

A record keeps the object's id; an object goes when its last referencing record goes.
Locks keep that exact under concurrency, always in one order (the thread row, then
objects by id): a writer locks the object it references until its transaction commits
(`FOR SHARE`, or the row lock its insert takes); `release` locks each object `FOR UPDATE`
and only then, in a new statement, looks for references left, so it sees every
reference committed before it got the lock.

Blobs move outside the database's transaction: they are written before the row that
names them and deleted after the commit that dropped their row (`PayloadTxn`); a crash
in between leaves an orphan blob that the objects reconcile removes.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio
import asyncpg
import orjson

from unison_shared.auth import RequestContext
from unison_shared.database import Database
from unison_shared.errors import DependencyUnavailable, NotFound

from ..objects.store import BlobMissing, ObjectStore, StoreUnavailable, new_storage_key

logger = logging.getLogger("unison.storage.payloads")

# Every table whose rows reference objects, with the referencing column.
_STILL_REFERENCED = (
    "EXISTS (SELECT 1 FROM thread_messages WHERE tenant_id = $1 AND content_object_id = $2) "
    "OR EXISTS (SELECT 1 FROM thread_state_versions WHERE tenant_id = $1 AND object_id = $2) "
    "OR EXISTS (SELECT 1 FROM thread_artifacts WHERE tenant_id = $1 AND object_id = $2) "
    # A trace span keeps an offloaded attribute value as {"$object": id} (traces/).
    "OR EXISTS (SELECT 1 FROM trace_spans WHERE tenant_id = $1 AND jsonb_path_exists("
    "attributes, '$.* ? (@.\"$object\" == $id)', jsonb_build_object('id', $2::text))) "
    # A file path names its latest object (files/).
    "OR EXISTS (SELECT 1 FROM files WHERE tenant_id = $1 AND object_id = $2)")
_LOCK = "SELECT storage_key FROM objects WHERE tenant_id = $1 AND id = $2 FOR UPDATE"
_INSERT = ("INSERT INTO objects AS o (tenant_id, id, person_id, filename, content_type, "
           "size_bytes, sha256, labels, storage_key) "
           "VALUES ($1, $2, $3, NULL, $4, $5, $6, $7::jsonb, $8) "
           # A concurrent insert of the same content: take its row (and its lock).
           "ON CONFLICT (tenant_id, id) DO UPDATE SET id = o.id RETURNING storage_key")


@dataclass(frozen=True)
class ObjectRef:
    id: str
    size_bytes: int
    sha256: str
    content_type: str
    storage_key: str


@dataclass
class PayloadTxn:
    """Blobs written in a transaction (deleted if it rolls back) and blobs to delete once
    it has committed (released objects, duplicates of content stored concurrently)."""

    written: list[str] = field(default_factory=list)
    doomed: list[str] = field(default_factory=list)


def content_object_id(person: str, sha256: str) -> str:
    """The id of a person's content-addressed object: the content's SHA-256 and a tag of
    the person (two persons of a household never share, or see, each other's object)."""
    tag = hashlib.sha256(person.encode()).hexdigest()[:16]
    return f"sha256-{sha256}-{tag}"


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


class Payloads:
    def __init__(self, db: Database, store: ObjectStore) -> None:
        self.db = db
        self.store = store

    @asynccontextmanager
    async def transaction(self, ctx: RequestContext
                          ) -> AsyncIterator[tuple[asyncpg.Connection, PayloadTxn]]:
        txn = PayloadTxn()
        try:
            async with self.db.transaction(ctx) as conn:
                yield conn, txn
        except BaseException:
            await self.delete_blobs(txn.written)
            raise
        await self.delete_blobs(txn.doomed)

    async def _write(self, txn: PayloadTxn, tenant: str, data: bytes) -> tuple[str, str]:
        key = new_storage_key(tenant)
        try:
            _, sha = await self.store.put_stream(key, _chunks(data))
        except StoreUnavailable as exc:
            raise DependencyUnavailable("the object store is unavailable") from exc
        txn.written.append(key)
        return key, sha

    async def put_content(self, conn: asyncpg.Connection, txn: PayloadTxn,
                          ctx: RequestContext, data: bytes, content_type: str,
                          kind: str) -> ObjectRef:
        """The person's object holding `data`, stored once per distinct content, locked
        until the transaction ends."""
        sha = hashlib.sha256(data).hexdigest()
        object_id = content_object_id(ctx.person_id, sha)
        key = await conn.fetchval(_LOCK, ctx.tenant_id, object_id)
        if key is None:
            new_key, _ = await self._write(txn, ctx.tenant_id, data)
            key = await conn.fetchval(_INSERT, ctx.tenant_id, object_id, ctx.person_id,
                                      content_type, len(data), sha,
                                      orjson.dumps({"kind": kind}).decode(), new_key)
            if key != new_key:
                txn.doomed.append(new_key)
        return ObjectRef(object_id, len(data), sha, content_type, key)

    async def put_unique(self, conn: asyncpg.Connection, txn: PayloadTxn,
                         ctx: RequestContext, object_id: str, data: bytes,
                         kind: str) -> ObjectRef:
        """A new object of its own (a sealed state: its bytes never repeat)."""
        key, sha = await self._write(txn, ctx.tenant_id, data)
        await conn.fetchval(_INSERT, ctx.tenant_id, object_id, ctx.person_id,
                            "application/octet-stream", len(data), sha,
                            orjson.dumps({"kind": kind}).decode(), key)
        return ObjectRef(object_id, len(data), sha, "application/octet-stream", key)

    async def lock_existing(self, conn: asyncpg.Connection, ctx: RequestContext,
                            object_id: str) -> ObjectRef | None:
        """One of the caller's own objects (an upload), locked against release until the
        transaction ends; None when the caller has no such object."""
        row = await conn.fetchrow(
            "SELECT id, size_bytes, sha256, content_type, storage_key FROM objects "
            "WHERE tenant_id = $1 AND person_id = $2 AND id = $3 FOR SHARE",
            ctx.tenant_id, ctx.person_id, object_id)
        return ObjectRef(**row) if row else None

    async def release(self, conn: asyncpg.Connection, txn: PayloadTxn, tenant: str,
                      object_ids: set[str]) -> int:
        """Delete each object no record references any more (after the caller removed
        its own references in this transaction); returns how many went."""
        gone = 0
        for object_id in sorted(object_ids):
            if await conn.fetchval(_LOCK, tenant, object_id) is None:
                continue
            if await conn.fetchval(f"SELECT {_STILL_REFERENCED}", tenant, object_id):
                continue
            key = await conn.fetchval("DELETE FROM objects WHERE tenant_id = $1 AND id = $2 "
                                      "RETURNING storage_key", tenant, object_id)
            if key is not None:
                txn.doomed.append(key)
                gone += 1
        return gone

    async def read(self, storage_key: str | None, size: int) -> bytes:
        if storage_key is None:
            raise NotFound("the record's payload is missing")
        if size == 0:
            return b""
        try:
            body = await self.store.open_range(storage_key, 0, size - 1)
            return b"".join([chunk async for chunk in body])
        except BlobMissing as exc:
            raise NotFound("the record's payload is missing") from exc
        except StoreUnavailable as exc:
            raise DependencyUnavailable("the object store is unavailable") from exc

    async def delete_blobs(self, keys: list[str]) -> None:
        with anyio.CancelScope(shield=True):
            for key in keys:
                try:
                    await self.store.delete(key)
                except Exception as exc:
                    logger.warning("payload delete failed; reconcile will remove it",
                                   extra={"error": type(exc).__name__})
