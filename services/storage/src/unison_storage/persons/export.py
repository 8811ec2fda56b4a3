"""The export stream: NDJSON, one `{"domain", "record"}` object per line, domain after
domain, each read a page at a time inside one read-only transaction (a consistent
snapshot), so the export is never whole in memory. A record with a payload (objects,
artifacts, files) adds `payload_b64` and the `sha256` of the bytes streamed, the bytes
read from the object store chunk by chunk into the line. Sealed records are opened:
agent state and workflow contexts always; secrets (vault values, encrypted KV values)
only with `include_secrets`, else `"value": null, "redacted": true`. The last line,
domain `export`, says the export is complete: a stream cut short lacks it.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import asyncpg
import orjson
from redis.asyncio import Redis

from unison_shared.auth import RequestContext
from unison_shared.crypto import CryptoError
from unison_shared.database import Database
from unison_shared.errors import NotFound, PersonErased

from ..audit import repository as audit_repo
from ..audit.service import AuditService
from ..keys.service import DataKeyService, KeyOwner
from ..objects.store import BlobMissing
from ..state.service import AAD_KIND as STATE_KIND
from ..state.service import record_id as state_record_id
from ..threads.payloads import Payloads
from ..workflows.service import AAD_KIND as WORKFLOW_KIND
from ..workflows.service import record_id as workflow_record_id
from . import export_repository as repo
from .repository import cache_prefix

AUDIT_PAGE = 200


def _json_default(value: Any) -> Any:
    # asyncpg's own UUID and numeric types: text, as their JSON form.
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not exported")


def _dumps(obj: dict[str, Any], newline: bool = True) -> bytes:
    option = orjson.OPT_NON_STR_KEYS | (orjson.OPT_APPEND_NEWLINE if newline else 0)
    return orjson.dumps(obj, default=_json_default, option=option)


def _line(domain: str, record: dict[str, Any]) -> bytes:
    return _dumps({"domain": domain, "record": record})


class PersonExport:
    def __init__(self, db: Database, redis: Redis | None, keys: DataKeyService,
                 audit: AuditService, payloads: Payloads, ctx: RequestContext,
                 include_secrets: bool) -> None:
        self.db, self.redis, self.keys, self.audit = db, redis, keys, audit
        self.payloads = payloads
        self.ctx = ctx
        self.owner = KeyOwner(ctx.tenant_id, ctx.person_id)
        self.include_secrets = include_secrets
        self.lines_written = 0

    async def lines(self) -> AsyncIterator[bytes]:
        t, p = self.owner
        async with self.db.transaction(self.ctx) as conn:
            await repo.snapshot(conn)
            for domain in repo.DOMAIN_SQL:
                async for row in repo.rows(conn, domain, t, p):
                    async for chunk in self._record(conn, domain, row):
                        yield chunk
            async for chunk in self._audit(conn):
                yield chunk
        async for chunk in self._cache():
            yield chunk
        yield _line("export", {"complete": True, "lines": self.lines_written})

    async def _record(self, conn: asyncpg.Connection, domain: str,
                      row: dict[str, Any]) -> AsyncIterator[bytes]:
        storage_key = row.pop("storage_key", None)
        size = row.pop("object_bytes", None)
        opener = _OPENERS.get(domain)
        if opener is not None:
            await opener(self, conn, row, storage_key, size)
            storage_key = None  # the payload was sealed: opened into the record
        elif domain == "messages" and row["content"] is None and storage_key is not None:
            content = await self._read(storage_key, size)
            if content is None:
                row["payload_missing"] = True
            else:
                row["content"] = content.decode()
            storage_key = None
        elif domain == "vector_documents":
            row["embedding"] = orjson.loads(row["embedding"])
        self.lines_written += 1
        if storage_key is None:
            yield _line(domain, row)
            return
        async for chunk in self._with_payload(domain, row, storage_key, size or 0):
            yield chunk

    async def _with_payload(self, domain: str, row: dict[str, Any], storage_key: str,
                            size: int) -> AsyncIterator[bytes]:
        """One line whose payload streams from the object store in base64."""
        try:
            body = await self.payloads.store.open_range(storage_key, 0, size - 1) \
                if size > 0 else None
        except BlobMissing:
            yield _line(domain, {**row, "payload_missing": True})
            return
        head = _dumps({"domain": domain, "record": row}, newline=False)
        yield head[:-1] + b',"payload_b64":"'
        digest, carry = hashlib.sha256(), b""
        if body is not None:
            async for chunk in body:
                digest.update(chunk)
                data = carry + chunk
                cut = len(data) - len(data) % 3  # whole base64 quanta only
                yield base64.b64encode(data[:cut])
                carry = data[cut:]
        yield base64.b64encode(carry) + b'","sha256":"' + digest.hexdigest().encode() + b'"}\n'

    async def _open(self, conn: asyncpg.Connection, owner: KeyOwner, kind: str,
                    record_id: str, dek: int, blob: bytes, version: int = 0) -> bytes | None:
        try:
            return await self.keys.decrypt(conn, owner, kind, record_id, dek, blob, version)
        except (CryptoError, PersonErased):
            return None

    async def _vault(self, conn: asyncpg.Connection, row: dict[str, Any],
                     _key: str | None, _size: int | None) -> None:
        blob, dek = row.pop("ciphertext"), row.pop("dek_version")
        row["id"] = str(row["id"])
        row["value"] = None
        if blob is None:
            row["destroyed"] = True
        elif not self.include_secrets:
            row["redacted"] = True
        else:
            plain = await self._open(conn, self.owner, "vault", row["id"], dek, blob,
                                     row["version"])
            row["value"] = None if plain is None else plain.decode()
            row["integrity_error"] = plain is None

    async def _kv(self, conn: asyncpg.Connection, row: dict[str, Any],
                  _key: str | None, _size: int | None) -> None:
        blob, dek, person = row.pop("value_enc"), row.pop("dek_version"), row.pop("person_id")
        if blob is None:
            return
        row["encrypted"] = True
        if not self.include_secrets:
            row["redacted"] = True
            return
        owner = KeyOwner(self.owner.tenant_id, person)
        plain = await self._open(conn, owner, "kv", f"{person}/{row['namespace']}/{row['key']}",
                                 dek, blob)
        row["value"] = None if plain is None else orjson.loads(plain)
        row["integrity_error"] = plain is None

    async def _read(self, storage_key: str, size: int | None) -> bytes | None:
        """A payload object's bytes; None when its blob is gone (the line says so)."""
        try:
            return await self.payloads.read(storage_key, size or 0)
        except NotFound:
            return None

    async def _sealed(self, row: dict[str, Any], inline_column: str,
                      storage_key: str | None, size: int | None) -> bytes | None:
        """A sealed blob: inline in the row, or the object the row names."""
        blob: bytes | None = row.pop(inline_column)
        if blob is None and storage_key is not None:
            blob = await self._read(storage_key, size)
        return blob

    async def _state(self, conn: asyncpg.Connection, row: dict[str, Any],
                     storage_key: str | None, size: int | None) -> None:
        dek = row.pop("dek_version")
        blob = await self._sealed(row, "ciphertext", storage_key, size)
        plain = None if blob is None else await self._open(
            conn, self.owner, STATE_KIND, state_record_id(self.owner.person_id,
                                                          row["thread_id"]),
            dek, blob, row["version"])
        row["data"] = None if plain is None else orjson.loads(plain)
        if plain is None:
            row["integrity_error"] = True

    async def _workflow(self, conn: asyncpg.Connection, row: dict[str, Any],
                        storage_key: str | None, size: int | None) -> None:
        dek = row.pop("dek_version")
        blob = await self._sealed(row, "context_enc", storage_key, size)
        plain = None if blob is None else await self._open(
            conn, self.owner, WORKFLOW_KIND,
            workflow_record_id(self.owner.person_id, row["id"], row["suspension_id"]),
            dek, blob)
        row["context_state"] = None if plain is None else orjson.loads(plain)
        if plain is None:
            row["integrity_error"] = True

    async def _audit(self, conn: asyncpg.Connection) -> AsyncIterator[bytes]:
        """The audit events about the person, their payloads opened."""
        t, p = self.owner
        after: int | None = None
        f = audit_repo.EventFilter(person_id=p)
        while True:
            rows = await audit_repo.list_events(conn, t, f, after, True, AUDIT_PAGE)
            for row in rows:
                event = await self.audit.event_of(conn, row)
                self.lines_written += 1
                yield _line("audit", event.model_dump(mode="json"))
            if len(rows) < AUDIT_PAGE:
                return
            after = rows[-1].seq

    async def _cache(self) -> AsyncIterator[bytes]:
        """The person's TTL-cache entries (Redis)."""
        if self.redis is None:
            return
        prefix = cache_prefix(*self.owner)
        async for name in self.redis.scan_iter(match=prefix + "*", count=500):
            raw = await self.redis.get(name)
            if raw is None:
                continue  # expired meanwhile
            key = name.decode() if isinstance(name, bytes) else str(name)
            self.lines_written += 1
            yield _line("cache", {"key": key[len(prefix):], **orjson.loads(raw)})


_OPENERS = {"vault": PersonExport._vault, "kv": PersonExport._kv,
            "state": PersonExport._state, "workflows": PersonExport._workflow}
