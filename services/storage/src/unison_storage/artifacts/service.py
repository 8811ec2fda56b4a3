"""Artifact rules: metadata rows on a thread; the payload, when the caller hands it
over, is an object: inline base64 (content-addressed: the person's identical payloads
are stored once) or the id of an object uploaded through /v1/objects. Deleting an
artifact (or its thread) deletes the payload unless another record still references it.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

import asyncpg

from unison_shared.auth import RequestContext
from unison_shared.errors import BadRequest, NotFound, PayloadTooLarge, ValidationFailed
from unison_shared.jsonutil import encode_jsonb

from ..settings import StorageOptions
from ..threads import cursor as cursors
from ..threads import repository as threads
from ..threads.payloads import ObjectRef, Payloads
from ..threads.service import missing, new_id
from . import repository as repo
from .repository import ArtifactFilter, NewArtifact
from .schemas import Artifact, ArtifactDeleted, ArtifactIn, ArtifactPage

ArtifactList = list[Artifact]  # (the class below has a method named `list`)
_CURSOR = "a"


class ArtifactService:
    def __init__(self, payloads: Payloads, options: StorageOptions) -> None:
        self.payloads = payloads
        self.options = options

    def _decode(self, body: ArtifactIn) -> bytes | None:
        if body.content_b64 is None:
            return None
        if body.object_id is not None:
            raise ValidationFailed("content_b64, object_id: give one payload, not both")
        limit = self.options.agent_artifact_inline_max_bytes
        if len(body.content_b64) > (limit // 3 + 1) * 4 + 4:
            raise PayloadTooLarge(f"content_b64: inline payloads are limited to {limit} "
                                  "bytes; upload larger ones to /v1/objects")
        try:
            data = base64.b64decode(body.content_b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValidationFailed("content_b64: not valid base64") from exc
        if len(data) > limit:
            raise PayloadTooLarge(f"content_b64: inline payloads are limited to {limit} bytes")
        return data

    async def create(self, ctx: RequestContext, thread_id: str, body: ArtifactIn) -> Artifact:
        data = self._decode(body)
        meta = encode_jsonb(body.metadata, "metadata", self.options.max_json_bytes)
        async with self.payloads.transaction(ctx) as (conn, txn):
            if not await threads.exists(conn, ctx.tenant_id, ctx.person_id, thread_id,
                                        lock=True):
                raise missing(thread_id)
            ref: ObjectRef | None = None
            if data is not None:
                ref = await self.payloads.put_content(conn, txn, ctx, data, body.content_type,
                                                      "artifact")
            elif body.object_id is not None:
                ref = await self.payloads.lock_existing(conn, ctx, body.object_id)
                if ref is None:
                    raise ValidationFailed(f"object_id: no object {body.object_id}")
            new = NewArtifact(
                id=new_id("artifact"), thread_id=thread_id, name=body.name, type=body.type,
                content_type=ref.content_type if ref and data is None else body.content_type,
                size_bytes=ref.size_bytes if ref else (body.size or 0), path=body.path,
                sha256=ref.sha256 if ref else None, object_id=ref.id if ref else None,
                metadata_json=meta)
            return await repo.insert(conn, ctx.tenant_id, ctx.person_id, new)

    async def _found(self, conn: asyncpg.Connection, ctx: RequestContext, artifact_id: str,
                     thread_id: str | None) -> tuple[Artifact, str | None]:
        found = await repo.get(conn, ctx.tenant_id, ctx.person_id, artifact_id)
        if found is None or (thread_id is not None and found[0].thread_id != thread_id):
            where = " in this thread" if thread_id is not None else ""
            raise NotFound(f"no artifact {artifact_id}{where}")
        return found

    async def get(self, conn: asyncpg.Connection, ctx: RequestContext, artifact_id: str,
                  thread_id: str | None = None) -> Artifact:
        return (await self._found(conn, ctx, artifact_id, thread_id))[0]

    async def content(self, conn: asyncpg.Connection, ctx: RequestContext, artifact_id: str,
                      thread_id: str | None = None) -> tuple[Artifact, bytes]:
        artifact, key = await self._found(conn, ctx, artifact_id, thread_id)
        if artifact.object_id is None:
            raise NotFound(f"artifact {artifact_id} has no stored payload (path only)")
        return artifact, await self.payloads.read(key, artifact.size_bytes)

    async def list(self, conn: asyncpg.Connection, ctx: RequestContext, f: ArtifactFilter,
                   cursor: str | None, limit: int) -> ArtifactPage:
        if f.thread_id is not None and not await threads.exists(
                conn, ctx.tenant_id, ctx.person_id, f.thread_id):
            raise missing(f.thread_id)
        after: tuple[datetime, str] | None = None
        if cursor:
            at, artifact_id = cursors.decode(_CURSOR, cursor, 2)
            try:
                after = datetime.fromisoformat(str(at)), str(artifact_id)
            except ValueError as exc:
                raise BadRequest("cursor: not one this service issued") from exc
        rows = await repo.list_artifacts(conn, ctx.tenant_id, ctx.person_id, f, after, 0,
                                         limit + 1)
        items = rows[:limit]
        next_cursor = (cursors.encode(_CURSOR, items[-1].created_at.isoformat(), items[-1].id)
                       if len(rows) > limit else None)
        return ArtifactPage(items=items, next_cursor=next_cursor)

    async def page(self, conn: asyncpg.Connection, ctx: RequestContext, f: ArtifactFilter,
                   offset: int, limit: int) -> ArtifactList:
        return await repo.list_artifacts(conn, ctx.tenant_id, ctx.person_id, f, None, offset,
                                         limit)

    async def delete(self, ctx: RequestContext, artifact_id: str,
                     thread_id: str | None = None) -> ArtifactDeleted:
        async with self.payloads.transaction(ctx) as (conn, txn):
            if thread_id is not None:
                await self._found(conn, ctx, artifact_id, thread_id)
            existed, object_id = await repo.delete(conn, ctx.tenant_id, ctx.person_id,
                                                   artifact_id)
            if not existed:
                raise NotFound(f"no artifact {artifact_id}")
            gone = 0
            if object_id is not None:
                gone = await self.payloads.release(conn, txn, ctx.tenant_id, {object_id})
        return ArtifactDeleted(id=artifact_id, payload_deleted=gone > 0)
