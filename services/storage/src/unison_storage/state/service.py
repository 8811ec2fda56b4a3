"""Agent state with versions: every write keeps a new version (the newest
`agent_state_max_versions` are kept), reads return the newest or a named one, a restore
writes an old version's data as a new version, and If-Match makes a write a
check-and-set on the current version (412 when another write got there first).

State carries tool credentials, so it is sealed at rest with the tenant's data key,
its AAD binding tenant, person, thread and version: a sealed state copied to another
row, person, thread or version fails to open. A sealed state larger than
`agent_state_inline_max_bytes` is an object of its own (sealed first, never deduped).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import asyncpg
import orjson

from unison_shared.auth import RequestContext
from unison_shared.crypto import CryptoError
from unison_shared.errors import NotFound, PreconditionFailed, UnisonError
from unison_shared.jsonutil import encode_jsonb

from ..keys.service import DataKeyService, KeyOwner
from ..settings import StorageOptions
from ..threads.payloads import Payloads
from ..threads.service import missing
from . import repository as repo
from .repository import SealedRow
from .schemas import State, StateVersion, StateVersions

logger = logging.getLogger("unison.storage.state")

AAD_KIND = "agent-state"
SEAL_OVERHEAD = 28  # AES-GCM: a 12-byte nonce and a 16-byte tag
# Lost races an inline write retries optimistically before it locks the thread.
OPTIMISTIC_ATTEMPTS = 3


class StateIntegrityError(UnisonError):
    status, code, title = 500, "integrity-error", "Stored state failed its integrity check"


def record_id(person: str, thread_id: str) -> str:
    """The AAD record id a thread's state is sealed with (also what the person export
    opens it with). A JSON array: unambiguous for any person and thread id."""
    return orjson.dumps([person, thread_id]).decode()


class StateService:
    def __init__(self, payloads: Payloads, keys: DataKeyService,
                 options: StorageOptions) -> None:
        self.payloads = payloads
        self.keys = keys
        self.options = options

    async def put(self, ctx: RequestContext, thread_id: str, data: dict[str, Any],
                  expected: int | None = None) -> State:
        """A new version. An inline one is written optimistically in autocommit: read the
        current version (or take the If-Match one), seal the next, then one statement
        that stores it only if the thread is still at the version before (a writer that
        lost the race retries, unless it named the version it expected: 412). A large
        one, and a write that keeps losing, lock the thread in a transaction instead."""
        plain = encode_jsonb(data, "data", self.options.agent_state_max_bytes).encode()
        if len(plain) + SEAL_OVERHEAD <= self.options.agent_state_inline_max_bytes:
            for _ in range(OPTIMISTIC_ATTEMPTS):
                state = await self._try_inline(ctx, thread_id, data, plain, expected)
                if state is not None:
                    return state
        return await self._put_locked(ctx, thread_id, data, plain, expected)

    async def _try_inline(self, ctx: RequestContext, thread_id: str, data: dict[str, Any],
                          plain: bytes, expected: int | None) -> State | None:
        t, p = ctx.tenant_id, ctx.person_id
        async with self.payloads.db.statement(ctx) as conn:
            current = expected
            if current is None:
                current = await repo.current_version(conn, t, p, thread_id)
                if current is None:
                    raise missing(thread_id)
            version = current + 1
            dek, blob = await self.keys.encrypt(conn, KeyOwner(t, p), AAD_KIND,
                                                record_id(p, thread_id), plain, version)
            written = await repo.write_inline(conn, t, p, thread_id, version, dek, blob,
                                              self.options.agent_state_max_versions)
            if written is None:
                if expected is None:
                    return None  # another write got there first: try again
                await self._refuse(conn, ctx, thread_id, expected)
        assert written is not None
        at, dropped = written
        if dropped:  # pruned versions that were objects: delete the unreferenced ones
            async with self.payloads.transaction(ctx) as (conn, txn):
                await self.payloads.release(conn, txn, t, dropped)
        return State(thread_id=thread_id, version=version, data=data, updated_at=at)

    @staticmethod
    async def _refuse(conn: asyncpg.Connection, ctx: RequestContext, thread_id: str,
                      expected: int | None) -> None:
        current = await repo.current_version(conn, ctx.tenant_id, ctx.person_id, thread_id)
        if current is None:
            raise missing(thread_id)
        raise PreconditionFailed(f"If-Match: expected version {expected}, the current "
                                 f"version is {current}")

    async def _put_locked(self, ctx: RequestContext, thread_id: str, data: dict[str, Any],
                          plain: bytes, expected: int | None) -> State:
        t, p = ctx.tenant_id, ctx.person_id
        async with self.payloads.transaction(ctx) as (conn, txn):
            version = await repo.next_version(conn, t, p, thread_id, expected)
            if version is None:
                await self._refuse(conn, ctx, thread_id, expected)
            assert version is not None
            dek, blob = await self.keys.encrypt(conn, KeyOwner(t, p), AAD_KIND,
                                                record_id(p, thread_id), plain, version)
            object_id = None
            inline: bytes | None = blob
            if len(blob) > self.options.agent_state_inline_max_bytes:
                ref = await self.payloads.put_unique(conn, txn, ctx,
                                                     f"state-{uuid.uuid4().hex}", blob, "state")
                object_id, inline = ref.id, None
            at = await repo.insert(conn, t, p, thread_id, version, dek, inline, object_id,
                                   len(blob))
            dropped = await repo.prune(conn, t, thread_id, version,
                                       self.options.agent_state_max_versions)
            await self.payloads.release(conn, txn, t, dropped)
        return State(thread_id=thread_id, version=version, data=data, updated_at=at)

    async def get(self, conn: asyncpg.Connection, ctx: RequestContext, thread_id: str,
                  version: int | None = None) -> State | None:
        """The newest (or the named) version; None when there is none."""
        t, p = ctx.tenant_id, ctx.person_id
        row = (await repo.latest(conn, t, p, thread_id) if version is None
               else await repo.get(conn, t, p, thread_id, version))
        if row is None:
            return None
        return State(thread_id=thread_id, version=row.version,
                     data=await self._open(conn, ctx, thread_id, row),
                     updated_at=row.created_at)

    async def require(self, conn: asyncpg.Connection, ctx: RequestContext,
                      thread_id: str) -> int:
        """The thread's current version number; 404 when the caller has no thread."""
        current = await repo.current_version(conn, ctx.tenant_id, ctx.person_id, thread_id)
        if current is None:
            raise missing(thread_id)
        return current

    async def _open(self, conn: asyncpg.Connection, ctx: RequestContext, thread_id: str,
                    row: SealedRow) -> dict[str, Any]:
        blob = row.ciphertext
        if blob is None:
            blob = await self.payloads.read(row.storage_key, row.size_bytes)
        try:
            plain = await self.keys.decrypt(conn, KeyOwner(ctx.tenant_id, ctx.person_id),
                                            AAD_KIND, record_id(ctx.person_id, thread_id),
                                            row.dek_version, blob, row.version)
        except CryptoError as exc:
            logger.error("agent state failed its integrity check",
                         extra={"thread_id": thread_id, "version": row.version})
            raise StateIntegrityError("the stored state failed its integrity check") from exc
        data: dict[str, Any] = orjson.loads(plain)
        return data

    async def versions(self, conn: asyncpg.Connection, ctx: RequestContext,
                       thread_id: str) -> StateVersions:
        current = await self.require(conn, ctx, thread_id)
        rows = await repo.versions(conn, ctx.tenant_id, ctx.person_id, thread_id)
        return StateVersions(thread_id=thread_id, current_version=current, items=[
            StateVersion(version=r.version, size_bytes=r.size_bytes, created_at=r.created_at)
            for r in rows])

    async def restore(self, ctx: RequestContext, thread_id: str, version: int,
                      expected: int | None) -> State:
        async with self.payloads.db.statement(ctx) as conn:
            old = await self.get(conn, ctx, thread_id, version)
            if old is None:
                await self.require(conn, ctx, thread_id)
                raise NotFound(f"no state version {version} in this thread")
        return await self.put(ctx, thread_id, old.data, expected)

    async def delete_all(self, ctx: RequestContext, thread_id: str) -> int:
        async with self.payloads.transaction(ctx) as (conn, txn):
            result = await repo.delete_all(conn, ctx.tenant_id, ctx.person_id, thread_id)
            if result is None:
                raise missing(thread_id)
            count, object_ids = result
            await self.payloads.release(conn, txn, ctx.tenant_id, object_ids)
        return count
