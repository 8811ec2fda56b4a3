"""Working-memory rules: entries per session, each with a hard expiry.

Every entry expires: its TTL is the one the caller gives, else its keyspace's default
(`memory_keyspace_ttls`), else `memory_default_ttl_seconds`; nothing may outlive
`memory_max_ttl_seconds`. Entries belong to the caller's tenant and person (a workload
without a person has its own tenant-level sessions), so the same session id in two
households, or for two persons, names two separate sessions.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from unison_shared.auth import RequestContext
from unison_shared.database import Database, StatementConnection
from unison_shared.errors import BadRequest, NotFound, ValidationFailed
from unison_shared.jsonutil import encode_jsonb

from ..settings import StorageOptions
from . import repository
from .repository import Scope
from .schemas import DEFAULT_KEYSPACE, MemoryEntry, MemoryPage

LatestState = Literal["live", "expired", "not-found"]
# One lookup of a single live entry in a session, on the connection it is handed.
Lookup = Callable[[StatementConnection, Scope], Awaitable[MemoryEntry | None]]


class MemoryService:
    def __init__(self, db: Database, options: StorageOptions) -> None:
        self.db = db
        self.options = options
        self.repo = repository

    def _scope(self, ctx: RequestContext, session_id: str) -> Scope:
        return Scope(ctx.tenant_id, ctx.person_id, session_id)

    def ttl_for(self, keyspace: str, ttl_seconds: int | None) -> int:
        ttl = ttl_seconds
        if ttl is None:
            ttl = self.options.memory_keyspace_ttls.get(keyspace,
                                                        self.options.memory_default_ttl_seconds)
        if ttl <= 0:
            raise ValidationFailed("ttl_seconds: must be greater than 0")
        if ttl > self.options.memory_max_ttl_seconds:
            raise ValidationFailed(f"ttl_seconds: at most {self.options.memory_max_ttl_seconds}")
        return ttl

    def encode(self, payload: Any) -> str:
        """The payload as JSON text, refusing what jsonb cannot hold and oversize values."""
        return encode_jsonb(payload, "payload", self.options.max_json_bytes)

    async def write(self, ctx: RequestContext, session_id: str, payload: Any,
                    key: str | None = None, keyspace: str = DEFAULT_KEYSPACE,
                    ttl_seconds: int | None = None) -> MemoryEntry:
        ttl = self.ttl_for(keyspace, ttl_seconds)
        encoded = self.encode(payload)
        async with self.db.statement(ctx) as conn:
            return await self.repo.write(conn, self._scope(ctx, session_id), key, keyspace,
                                         encoded, ttl)

    async def latest(self, ctx: RequestContext, session_id: str) -> MemoryEntry | None:
        return (await self.latest_state(ctx, session_id))[0]

    async def latest_state(self, ctx: RequestContext,
                           session_id: str) -> tuple[MemoryEntry | None, LatestState]:
        """The newest live entry; when there is none, whether the session only holds
        expired entries (the legacy API reports `expired`) or nothing at all."""
        scope = self._scope(ctx, session_id)
        async with self.db.statement(ctx) as conn:
            entry = await self.repo.latest(conn, scope)
            if entry is not None:
                return entry, "live"
            expired = await self.repo.has_expired(conn, scope)
        return None, "expired" if expired else "not-found"

    async def get(self, ctx: RequestContext, session_id: str, entry_id: int) -> MemoryEntry:
        return await self._one(ctx, session_id, lambda c, s: self.repo.get(c, s, entry_id),
                               f"no entry {entry_id} in this session")

    async def by_key(self, ctx: RequestContext, session_id: str, key: str) -> MemoryEntry:
        return await self._one(ctx, session_id, lambda c, s: self.repo.by_key(c, s, key),
                               f"no entry with key {key!r} in this session")

    async def _one(self, ctx: RequestContext, session_id: str, lookup: Lookup,
                   missing: str) -> MemoryEntry:
        async with self.db.statement(ctx) as conn:
            entry = await lookup(conn, self._scope(ctx, session_id))
        if entry is None:
            raise NotFound(missing)
        return entry

    async def list(self, ctx: RequestContext, session_id: str, cursor: str | None,
                   limit: int) -> MemoryPage:
        before = _decode_cursor(cursor) if cursor else None
        async with self.db.statement(ctx) as conn:
            rows = await self.repo.list_entries(conn, self._scope(ctx, session_id), before,
                                                limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        return MemoryPage(items=rows, next_cursor=_encode_cursor(rows[-1].id) if more else None)

    async def delete(self, ctx: RequestContext, session_id: str, entry_id: int) -> None:
        async with self.db.statement(ctx) as conn:
            if not await self.repo.delete_entry(conn, self._scope(ctx, session_id), entry_id):
                raise NotFound(f"no entry {entry_id} in this session")

    async def delete_key(self, ctx: RequestContext, session_id: str, key: str) -> None:
        async with self.db.statement(ctx) as conn:
            if not await self.repo.delete_key(conn, self._scope(ctx, session_id), key):
                raise NotFound(f"no entry with key {key!r} in this session")

    async def delete_session(self, ctx: RequestContext, session_id: str) -> int:
        """Remove the whole session; returns how many live entries it held."""
        async with self.db.statement(ctx) as conn:
            return await self.repo.delete_session(conn, self._scope(ctx, session_id))


def _encode_cursor(entry_id: int) -> str:
    return base64.urlsafe_b64encode(f"m:{entry_id}".encode()).decode()


def _decode_cursor(cursor: str) -> int:
    try:
        tag, _, value = base64.b64decode(cursor.encode(), altchars=b"-_",
                                         validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("cursor is not one this service issued") from exc
    if tag != "m" or not (value.isascii() and value.isdigit() and len(value) <= 18):
        raise BadRequest("cursor is not one this service issued")
    return int(value)
