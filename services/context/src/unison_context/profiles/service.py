"""Profile rules with the database: replace, merge-patch, history, PIN verification."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from unison_shared.auth import RequestContext

from ..documents.service import Document, DocumentStore
from ..keys.service import PersonKeys
from ..settings import ContextOptions
from . import repository, rules
from .credentials import PinHasher


class ProfileService:
    def __init__(self, keys: PersonKeys, opts: ContextOptions, hasher: PinHasher) -> None:
        self.docs = DocumentStore(keys, "profiles", "profile", opts.max_json_bytes)
        self.history_keep = opts.profile_history_max
        self.hasher = hasher

    async def get(self, pg: asyncpg.Connection, ctx: RequestContext) -> Document | None:
        doc = await self.docs.get(pg, ctx)
        if doc is not None and not doc.value.get("unison_id"):
            doc.value["unison_id"] = ctx.person_id
        return doc

    async def replace(self, pg: asyncpg.Connection, ctx: RequestContext, profile: Any,
                      expected: int | None = None, at: datetime | None = None) -> Document:
        """Full replace (inside a transaction). Raises ProfileInvalid, PreconditionFailed."""
        current = await self.docs.get(pg, ctx, lock=True)
        self.docs.check(current, expected)
        return await self._write(pg, ctx, profile, current, at)

    async def patch(self, pg: asyncpg.Connection, ctx: RequestContext, patch: Any,
                    expected: int | None = None) -> Document:
        """RFC 7396 merge-patch of the current profile (an absent profile is {})."""
        if not isinstance(patch, dict):
            raise rules.ProfileInvalid("profile", "a merge patch must be a JSON object")
        current = await self.docs.get(pg, ctx, lock=True)
        self.docs.check(current, expected)
        base = current.value if current else {}
        return await self._write(pg, ctx, rules.merge_patch(base, patch), current)

    async def _write(self, pg: asyncpg.Connection, ctx: RequestContext, profile: Any,
                     current: Document | None, at: datetime | None = None) -> Document:
        stored = rules.normalize(profile, ctx.person_id)
        found = rules.Credentials()
        stored = rules.extract_credentials(stored, found)
        doc = await self.docs.write(pg, ctx, stored, current, "profile", self.history_keep,
                                    at)
        for kind, secret in found.new.items():
            await repository.set_hash(pg, ctx.tenant_id, ctx.person_id, kind,
                                      await self.hasher.hash(secret))
        before = rules.Credentials()
        if current is not None:
            rules.extract_credentials(current.value, before)
        if before.present - found.present:  # a PIN or passcode was removed
            await repository.keep_only(pg, ctx.tenant_id, ctx.person_id,
                                       sorted(found.present))
        return doc

    async def history(self, pg: asyncpg.Connection, ctx: RequestContext, before: int | None,
                      limit: int) -> list[Document]:
        return await self.docs.history(pg, ctx, before, limit)

    async def verify(self, pg: asyncpg.Connection, ctx: RequestContext, kind: str,
                     secret: str) -> bool:
        stored = await repository.get_hash(pg, ctx.tenant_id, ctx.person_id, kind)
        return await self.hasher.verify(stored, secret)
