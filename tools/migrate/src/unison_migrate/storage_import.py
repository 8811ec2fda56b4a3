"""Older storage service (kv, memory_entries, vault_entries, audit_events, objects with
payloads under <dir>/objects/) into the storage service, through storage's own services:
vault values and the `vault` KV namespace are encrypted, audit events join the tenant's
hash chain, object payloads go to the object store with their checksum.

Idempotent: a KV key, memory entry (keyed `legacy:<rowid>`), secret or object that
exists is skipped; audit events keep their ids (a legacy row without one gets an id
derived from its content), and the chain answers a known id with the event it has."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from unison_shared.errors import NotFound, UnisonError
from unison_storage.audit.schemas import AuditEventIn
from unison_storage.objects.service import Upload
from unison_storage.vault import repository as vault_repo
from unison_storage.wiring import Services

from .common import CellError, Progress, context_for, json_cell, no_progress
from .report import ImportReport, TableReport
from .sqlite_source import SqliteSource

TABLES = ("kv", "memory_entries", "vault_entries", "audit_events", "objects")


@dataclass
class StorageImport:
    tenant: str
    person: str = ""  # the person legacy rows without a person_id belong to
    objects_dir: Path | None = None


def _text(row: dict[str, Any], *names: str) -> str | None:
    for name in names:
        value = row.get(name)
        if isinstance(value, str) and value:
            return value
    return None


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


class StorageImporter:
    def __init__(self, services: Services, opts: StorageImport) -> None:
        self.svc = services
        self.opts = opts

    async def run(self, source: SqliteSource, progress: Progress = no_progress) -> ImportReport:
        report = ImportReport()
        handlers = {"kv": self._kv, "memory_entries": self._memory,
                    "vault_entries": self._vault, "audit_events": self._audit,
                    "objects": self._object}
        for table in TABLES:
            progress(table, source.count(table))
            rep = report.table(table)
            for row in source.rows(table):
                label = f"row {row['_rowid']}"
                try:
                    await handlers[table](row, rep)
                except CellError as exc:
                    rep.fail(label, str(exc))
                except UnisonError as exc:
                    rep.fail(label, exc.detail)
                progress(table, None)
        return report

    def _ctx(self, row: dict[str, Any]) -> Any:
        return context_for(self.opts.tenant, _text(row, "person_id") or self.opts.person)

    async def _kv(self, row: dict[str, Any], rep: TableReport) -> None:
        ns, key = _text(row, "ns", "namespace") or "default", _text(row, "key")
        if key is None:
            raise CellError("key is missing")
        ctx = self._ctx(row)
        if await self.svc.kv.get(ctx, ns, key) is not None:
            rep.skip("key already present")
            return
        await self.svc.kv.put(ctx, ns, key, json_cell(row.get("value"), "value"))
        rep.imported += 1

    async def _memory(self, row: dict[str, Any], rep: TableReport) -> None:
        sid = _text(row, "session_id")
        if sid is None:
            raise CellError("session_id is missing")
        ctx = self._ctx(row)
        key = f"legacy:{row.get('id') or row['_rowid']}"
        ttl: int | None = None
        expires = row.get("expires_at")
        if isinstance(expires, int | float):
            ttl = int(expires - time.time())
            if ttl <= 0:
                rep.skip("expired")
                return
        try:
            await self.svc.memory.by_key(ctx, sid, key)
            rep.skip("entry already present")
            return
        except NotFound:
            pass
        data = json_cell(row.get("data"), "data")
        await self.svc.memory.write(ctx, sid, data, key=key, ttl_seconds=ttl)
        rep.imported += 1

    async def _vault(self, row: dict[str, Any], rep: TableReport) -> None:
        name = _text(row, "key_id", "id")
        value = _text(row, "cipher_text", "data")
        if name is None or value is None:
            raise CellError("key_id or cipher_text is missing")
        metadata = json_cell(row.get("metadata"), "metadata", {})
        if not isinstance(metadata, dict):
            raise CellError("metadata is not an object")
        ctx = self._ctx(row)
        async with self.svc.db.statement(ctx) as conn:
            exists = await vault_repo.get_secret(conn, ctx.tenant_id, ctx.person_id, name)
        if exists is not None:
            rep.skip("secret already present")
            return
        await self.svc.vault.put(ctx, name, value, metadata)
        rep.imported += 1

    async def _audit(self, row: dict[str, Any], rep: TableReport) -> None:
        action = _text(row, "action")
        if action is None:
            raise CellError("action is missing")
        fields = {k: row.get(k) for k in ("actor", "target", "decision_id", "status",
                                          "person_id")}
        event_id = _text(row, "id") or "legacy-" + hashlib.sha256(json.dumps(
            [action, fields, row.get("created_at")], default=str).encode()).hexdigest()[:32]
        payload = json_cell(row.get("payload"), "payload", {})
        if not isinstance(payload, dict):
            payload = {"value": payload}
        if row.get("created_at") is not None:
            payload = {**payload, "legacy_created_at": row["created_at"]}
        event = AuditEventIn(id=event_id, action=action, payload=payload,
                             **{k: str(v) for k, v in fields.items() if v is not None})
        _, created = await self.svc.audit.record(context_for(self.opts.tenant, ""), event)
        if created:
            rep.imported += 1
        else:
            rep.skip("event already in the chain")

    async def _object(self, row: dict[str, Any], rep: TableReport) -> None:
        object_id = _text(row, "id")
        if object_id is None:
            raise CellError("id is missing")
        ctx = self._ctx(row)
        try:
            await self.svc.objects.get(ctx, object_id)
            rep.skip("object already present")
            return
        except NotFound:
            pass
        stored_as = _text(row, "path", "filename")
        name = Path(stored_as).name if stored_as else object_id
        path = (self.opts.objects_dir or Path("objects")) / name
        if not path.is_file():
            raise CellError(f"payload {path.name} is missing under objects/")
        data = path.read_bytes()
        checksum = _text(row, "checksum")
        if checksum and len(checksum) == 64 and hashlib.sha256(data).hexdigest() != checksum:
            raise CellError("payload does not match its checksum")
        await self.svc.objects.upload(ctx, _one(data), Upload(
            content_type=_text(row, "content_type") or "application/octet-stream",
            content_length=len(data), object_id=object_id))
        rep.imported += 1
