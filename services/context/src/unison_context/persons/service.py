"""Person erasure and export for the context database.

Erasure deletes every row of the person in the tenant (profile and its history, PIN and
passcode hashes, dashboard, conversations, KV) and the person's wrapped data keys in one
transaction, then drops the unwrapped keys from this process: ciphertext left in a
backup can no longer be opened (crypto-shredding). Export streams the same records,
decrypted, as JSON lines; secrets only to the person's own token."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg

from unison_shared.auth import RequestContext
from unison_shared.database import Database
from unison_shared.erasure import ErasureReceipt

from ..keys import repository as keys_repository
from ..wiring import Services
from . import eviction, repository
from .secrets import redact_profile

SERVICE = "context"
PAGE = 500




def _default(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def _line(domain: str, record: dict[str, Any], redacted: bool = False) -> bytes:
    """The standard library's encoder, as the JSON replies use: stored JSON may hold
    integers beyond 64 bits, which orjson refuses."""
    line: dict[str, Any] = {"domain": domain, "record": record}
    if redacted:
        line["redacted"] = True
    return json.dumps(line, default=_default, separators=(",", ":")).encode() + b"\n"


class PersonDataService:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def erase(self, pg: asyncpg.Connection, ctx: RequestContext) -> ErasureReceipt:
        """Inside the caller's transaction (the request's)."""
        removed: dict[str, int] = {}
        for domain, table in repository.ERASED_TABLES:
            removed[domain] = await repository.delete_rows(pg, table, ctx.tenant_id,
                                                           ctx.person_id)
        destroyed = await keys_repository.delete_person(pg, ctx.tenant_id, ctx.person_id)
        evicted = self.services.keys.forget(ctx.tenant_id, ctx.person_id)
        # Every replica (this one too) drops the keys again once this commits, so a
        # request racing the erasure cannot keep one.
        await eviction.announce(pg, ctx.tenant_id, ctx.person_id)
        return ErasureReceipt(service=SERVICE, tenant_id=ctx.tenant_id,
                              person_id=ctx.person_id, removed=removed,
                              keys_destroyed=destroyed, caches_purged=evicted,
                              completed_at=datetime.now(UTC))

    async def export(self, db: Database, ctx: RequestContext,
                     include_secrets: bool) -> AsyncIterator[bytes]:
        """JSON lines, read in one repeatable-read snapshot."""
        async with db.statement(ctx) as pg, \
                pg.transaction(isolation="repeatable_read", readonly=True):
            async for line in self._documents(pg, ctx, include_secrets):
                yield line
            async for line in self._conversations(pg, ctx):
                yield line
            async for line in self._kv(pg, ctx):
                yield line

    async def _documents(self, pg: asyncpg.Connection, ctx: RequestContext,
                         secrets: bool) -> AsyncIterator[bytes]:
        svc = self.services
        profile = await svc.profiles.get(pg, ctx)
        if profile is not None:
            value = profile.value if secrets else redact_profile(profile.value)
            yield _line("profile", {"version": profile.version, "profile": value,
                                    "created_at": profile.created_at,
                                    "updated_at": profile.updated_at},
                        redacted=value != profile.value)
        before: int | None = None
        while True:
            docs = await svc.profiles.history(pg, ctx, before, PAGE)
            for doc in docs:
                value = doc.value if secrets else redact_profile(doc.value)
                yield _line("profile_history", {"version": doc.version, "profile": value,
                                                "created_at": doc.created_at},
                            redacted=value != doc.value)
            if len(docs) < PAGE:
                break
            before = docs[-1].version
        for cred in await repository.credentials(pg, ctx.tenant_id, ctx.person_id):
            record: dict[str, Any] = {"kind": cred.kind, "updated_at": cred.updated_at}
            if secrets:
                record["hash"] = cred.hash
            yield _line("credentials", record, redacted=not secrets)
        dashboard = await svc.dashboards.get(pg, ctx)
        if dashboard is not None:
            yield _line("dashboard", {"version": dashboard.version,
                                      "dashboard": dashboard.value,
                                      "created_at": dashboard.created_at,
                                      "updated_at": dashboard.updated_at})

    async def _conversations(self, pg: asyncpg.Connection,
                             ctx: RequestContext) -> AsyncIterator[bytes]:
        """Opened (sealed content decrypted, legacy plaintext rows as they are)."""
        svc = self.services.conversations
        after: tuple[datetime, str] | None = None
        while True:
            sessions = await svc.session_page(pg, ctx, after, PAGE)
            for s in sessions:
                yield _line("conversation_sessions", {
                    "session_id": s.session_id, "response": s.response,
                    "summary": s.summary, "message_count": s.message_count,
                    "created_at": s.created_at, "updated_at": s.updated_at})
                seq: int | None = None
                while True:
                    rows = await svc.message_page(pg, ctx, s.session_id, seq, False, PAGE)
                    for m in rows:
                        yield _line("conversation_messages", {
                            "session_id": s.session_id, "seq": m.seq, "body": m.body,
                            "created_at": m.created_at})
                    if len(rows) < PAGE:
                        break
                    seq = rows[-1].seq
            if len(sessions) < PAGE:
                break
            after = (sessions[-1].updated_at, sessions[-1].session_id)

    async def _kv(self, pg: asyncpg.Connection, ctx: RequestContext) -> AsyncIterator[bytes]:
        after: str | None = None
        while True:
            rows = await repository.kv_page(pg, ctx.tenant_id, ctx.person_id, after, PAGE)
            for row, updated_at in rows:
                value = await self.services.kv.open_row(pg, ctx, row)
                yield _line("kv", {"key": row.key, "tier": row.tier, "value": value,
                                   "updated_at": updated_at})
            if len(rows) < PAGE:
                break
            after = rows[-1][0].key
