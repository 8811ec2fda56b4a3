"""KV rules: check-and-set by version, TTL, and encryption of sensitive namespaces."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson

from unison_shared import jsonutil
from unison_shared.auth import RequestContext
from unison_shared.database import Database, StatementConnection
from unison_shared.errors import BadRequest, NotFound, PreconditionFailed

from ..keys.service import DataKeyService, KeyOwner
from . import repository
from .repository import KVRow, KVWrite
from .schemas import KVPage, KVRecord

DEFAULT_NAMESPACE = "default"


def etag_of(version: int) -> str:
    return f'"{version}"'


def parse_etag(header: str) -> int | None:
    """The version an If-Match header names; None for '*'."""
    tag = header.strip()
    if tag == "*":
        return None
    tag = tag.removeprefix("W/").strip('"')
    if not tag.isdigit():
        raise PreconditionFailed("If-Match must be an ETag this service issued, or *")
    return int(tag)


class KVService:
    def __init__(self, db: Database, keys: DataKeyService, sensitive: set[str],
                 max_value_bytes: int) -> None:
        self.db = db
        self.keys = keys
        # Matched without regard to case: /v1/kv/VAULT/k must be as secret as vault/k.
        self.sensitive = {name.lower() for name in sensitive}
        self.max_value_bytes = max_value_bytes
        self.repo = repository

    def is_sensitive(self, ns: str) -> bool:
        return ns.lower() in self.sensitive

    def _aad_id(self, ctx: RequestContext, ns: str, key: str) -> str:
        return f"{ctx.person_id}/{ns}/{key}"

    @asynccontextmanager
    async def _session(self, ctx: RequestContext, ns: str
                       ) -> AsyncIterator[tuple[StatementConnection | None, StatementConnection]]:
        """(SQLAlchemy connection or None, statement connection) for one operation.

        Plain namespaces run single autocommit statements (the hot path). Sensitive ones
        run in a transaction, because their data key may be created in the same breath.
        """
        if self.is_sensitive(ns):
            async with self.db.transaction(ctx) as conn:
                yield conn, conn
        else:
            async with self.db.statement(ctx) as pg:
                yield None, pg

    async def _to_record(self, conn: StatementConnection | None, ctx: RequestContext,
                         row: KVRow) -> KVRecord:
        value = row.value
        if row.value_enc is not None:
            assert row.dek_version is not None
            aad_id = self._aad_id(ctx, row.namespace, row.key)
            owner = KeyOwner(ctx.tenant_id, ctx.person_id)
            if conn is None:  # the namespace stopped being sensitive after this write
                async with self.db.transaction(ctx) as own:
                    plain = await self.keys.decrypt(own, owner, "kv", aad_id,
                                                    row.dek_version, row.value_enc)
            else:
                plain = await self.keys.decrypt(conn, owner, "kv", aad_id,
                                                row.dek_version, row.value_enc)
            value = orjson.loads(plain)
        return KVRecord(namespace=row.namespace, key=row.key, value=value, version=row.version,
                        etag=etag_of(row.version), expires_at=row.expires_at,
                        updated_at=row.updated_at)

    async def get(self, ctx: RequestContext, ns: str, key: str) -> KVRecord | None:
        async with self._session(ctx, ns) as (conn, pg):
            row = await self.repo.get(pg, ctx.tenant_id, ctx.person_id, ns, key)
            return await self._to_record(conn, ctx, row) if row else None

    async def put(self, ctx: RequestContext, ns: str, key: str, value: Any,
                  ttl_seconds: int | None = None, if_match: str | None = None,
                  if_none_match: str | None = None) -> tuple[KVRecord, bool]:
        """Write; returns the record and whether it was created. 412 on a failed condition."""
        text_value = jsonutil.encode_jsonb(value, "value", self.max_value_bytes)
        encoded = text_value.encode()
        if if_none_match is not None and if_none_match.strip() != "*":
            raise PreconditionFailed("If-None-Match supports only *")
        expected = parse_etag(if_match) if if_match is not None else None
        async with self._session(ctx, ns) as (conn, pg):
            if self.is_sensitive(ns):
                assert conn is not None
                dek, blob = await self.keys.encrypt(conn, KeyOwner(ctx.tenant_id, ctx.person_id),
                                                    "kv", self._aad_id(ctx, ns, key), encoded)
                write = KVWrite(None, blob, dek, ttl_seconds)
            else:
                write = KVWrite(text_value, None, None, ttl_seconds)
            args = (pg, ctx.tenant_id, ctx.person_id, ns, key, write)
            row: KVRow | None
            if if_none_match is not None:
                row = await self.repo.put_if_absent(*args)
                if row is None:
                    raise PreconditionFailed("a record already exists at this key")
            elif if_match is not None:
                if expected is None:  # If-Match: * (any existing record)
                    existing = await self.repo.get(pg, ctx.tenant_id, ctx.person_id, ns,
                                                   key)
                    if existing is None:
                        raise PreconditionFailed("no record exists at this key")
                    expected = existing.version
                row = await self.repo.put_if_version(*args, expected_version=expected)
                if row is None:
                    raise PreconditionFailed("the record changed: its ETag no longer matches")
            else:
                row = await self.repo.put(*args)
            return await self._to_record(conn, ctx, row), row.version == 1

    async def delete(self, ctx: RequestContext, ns: str, key: str,
                     if_match: str | None = None) -> None:
        expected = parse_etag(if_match) if if_match else None
        async with self._session(ctx, ns) as (_conn, pg):
            if not await self.repo.delete(pg, ctx.tenant_id, ctx.person_id, ns, key,
                                          expected):
                if expected is not None and await self.repo.get(
                        pg, ctx.tenant_id, ctx.person_id, ns, key):
                    raise PreconditionFailed("the record changed: its ETag no longer matches")
                raise NotFound(f"no record {ns}/{key}")

    async def list(self, ctx: RequestContext, ns: str, prefix: str, cursor: str | None,
                   limit: int) -> KVPage:
        after = _decode_cursor(cursor) if cursor else ""
        async with self._session(ctx, ns) as (conn, pg):
            rows = await self.repo.list_keys(pg, ctx.tenant_id, ctx.person_id, ns, prefix,
                                             after, limit + 1)
            items = [await self._to_record(conn, ctx, r) for r in rows[:limit]]
        next_cursor = _encode_cursor(rows[limit - 1].key) if len(rows) > limit else None
        return KVPage(items=items, next_cursor=next_cursor)


def _encode_cursor(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode()


def _decode_cursor(cursor: str) -> str:
    try:
        return base64.b64decode(cursor.encode(), altchars=b"-_", validate=True).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("cursor is not one this service issued") from exc
