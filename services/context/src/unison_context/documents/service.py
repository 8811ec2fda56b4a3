"""Sealing and check-and-set for per-person JSON documents; the domain rules (profile
validation, dashboard cards) live in the profile and dashboard services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from unison_shared import jsonutil
from unison_shared.auth import RequestContext
from unison_shared.errors import PreconditionFailed

from ..keys.service import PersonKeys
from . import repository
from .repository import SealedRow, Table


@dataclass(frozen=True)
class Document:
    value: dict[str, Any]
    version: int
    created_at: datetime
    updated_at: datetime

    @property
    def etag(self) -> str:
        return f'"{self.version}"'


def parse_if_match(header: str | None) -> int | None:
    """The version an If-Match header names: None for no header, -1 for `*`."""
    if header is None:
        return None
    tag = header.strip()
    if tag == "*":
        return -1
    tag = tag.removeprefix("W/").strip('"')
    if not tag.isdigit():
        raise PreconditionFailed("If-Match must be an ETag this service issued, or *")
    return int(tag)


class DocumentStore:
    def __init__(self, keys: PersonKeys, table: Table, kind: str, max_bytes: int) -> None:
        self.keys = keys
        self.table: Table = table
        self.kind = kind
        self.max_bytes = max_bytes

    async def _open(self, pg: asyncpg.Connection, ctx: RequestContext,
                    row: SealedRow) -> dict[str, Any]:
        plain = await self.keys.open(pg, ctx.tenant_id, ctx.person_id, self.kind,
                                     f"v{row.version}", row.dek_version, row.ciphertext)
        value: dict[str, Any] = orjson.loads(plain)
        return value

    async def get(self, pg: asyncpg.Connection, ctx: RequestContext,
                  lock: bool = False) -> Document | None:
        row = await repository.get(pg, self.table, ctx.tenant_id, ctx.person_id, lock)
        if row is None:
            return None
        return Document(await self._open(pg, ctx, row), row.version, row.created_at,
                        row.updated_at)

    def check(self, current: Document | None, expected: int | None) -> None:
        if expected is None:
            return
        if current is None:
            raise PreconditionFailed(f"no {self.kind} exists yet")
        if expected != -1 and current.version != expected:
            raise PreconditionFailed(f"the {self.kind} changed: its ETag no longer matches")

    async def write(self, pg: asyncpg.Connection, ctx: RequestContext, value: dict[str, Any],
                    current: Document | None, field: str, history_keep: int = 0,
                    at: datetime | None = None) -> Document:
        """Seal and store a new version (inside the caller's transaction, after `get(...,
        lock=True)` so concurrent writers serialise on the row)."""
        text = jsonutil.encode_jsonb(value, field, self.max_bytes)
        version = (current.version if current else 0) + 1
        dek, blob = await self.keys.seal(pg, ctx.tenant_id, ctx.person_id, self.kind,
                                         f"v{version}", text.encode())
        if history_keep:
            row = await repository.upsert_with_history(pg, ctx.tenant_id, ctx.person_id,
                                                       version, blob, dek, history_keep, at)
        else:
            row = await repository.upsert(pg, self.table, ctx.tenant_id, ctx.person_id,
                                          version, blob, dek, at)
        return Document(value, row.version, row.created_at, row.updated_at)

    async def history(self, pg: asyncpg.Connection, ctx: RequestContext, before: int | None,
                      limit: int) -> list[Document]:
        rows = await repository.history(pg, ctx.tenant_id, ctx.person_id, before, limit)
        return [Document(await self._open(pg, ctx, r), r.version, r.created_at, r.created_at)
                for r in rows]

    async def delete(self, pg: asyncpg.Connection, ctx: RequestContext) -> bool:
        return await repository.delete(pg, self.table, ctx.tenant_id, ctx.person_id)
