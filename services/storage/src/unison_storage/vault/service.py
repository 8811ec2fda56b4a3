"""Vault rules: named secrets per tenant and person, encrypted with the tenant's data key,
versioned, check-and-set on write, soft delete, undelete and destroy (crypto-erase).

Every operation appends an audit event, committed with the change or not at all: a
write's version and event are one statement (see `put`), other changes append in their
transaction. A read (value, metadata, list) changes nothing, so it runs in autocommit
and its event is appended before anything is returned (a value read: in the same
statement as the read); if the append fails, the caller gets an error and no value.
Events carry the name and version numbers, never the value. Reads audit their failures
too (not found, gone, integrity), and the error is raised only after the append.

A ciphertext that fails authentication (tampered, copied to another row or tenant, or
its data key missing) is server-side corruption the caller cannot fix: it answers 500
with code `integrity-error`, is logged with ids only, and is audited.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from unison_shared.auth import RequestContext
from unison_shared.crypto import CryptoError
from unison_shared.database import Database, StatementConnection
from unison_shared.errors import (
    BadRequest,
    Conflict,
    NotFound,
    PreconditionFailed,
    UnisonError,
)

from ..audit.schemas import AuditEventIn
from ..audit.service import AuditService
from ..keys import rotation
from ..keys.service import DataKeyService, KeyOwner
from . import repository, rules
from .repository import SecretRow, VersionRow
from .schemas import DestroyResult, SecretDetail, SecretMetadata, SecretPage, SecretValue
from .schemas import VersionInfo as VersionOut

logger = logging.getLogger("unison.storage.vault")

AAD_KIND = "vault"
VersionList = list[int]  # (the class below has a method named `list`)
# Lost races a write retries optimistically before it takes the secret's row lock in a
# transaction (PostgreSQL), and attempts in all before it answers 409.
OPTIMISTIC_ATTEMPTS = 3
WRITE_ATTEMPTS = 6


class VaultIntegrityError(UnisonError):
    status, code, title = 500, "integrity-error", "Stored secret failed its integrity check"


@dataclass(frozen=True)
class _Write:
    name: str
    plain: bytes
    meta_json: str | None  # None: keep the secret's metadata ('{}' for a new one)
    max_versions: int | None  # None: keep the secret's (the server's for a new one)
    expected: int | None  # cas / If-Match: the version the caller expects, 0 = absent


def _check_expected(expected: int | None, current: int) -> None:
    if expected is not None and current != expected:
        raise PreconditionFailed(
            f"cas: expected version {expected}, the current version is {current}")


def _meta(row: SecretRow) -> SecretMetadata:
    return SecretMetadata(name=row.name, version=row.current_version,
                          max_versions=row.max_versions, metadata=row.metadata,
                          created_at=row.created_at, updated_at=row.updated_at,
                          deleted_at=row.deleted_at)


class VaultService:
    def __init__(self, db: Database, keys: DataKeyService, audit: AuditService,
                 max_versions: int) -> None:
        self.db = db
        self.keys = keys
        self.audit = audit
        self.max_versions = max_versions
        self.repo = repository

    @staticmethod
    def _event(ctx: RequestContext, action: str, target: str, status: str = "ok",
               **payload: Any) -> AuditEventIn:
        return AuditEventIn(actor=ctx.principal.sub[:256] or None, action=action,
                            target=f"vault:{target}", person_id=ctx.person_id or None,
                            status=status, payload=payload)

    async def _audit(self, conn: StatementConnection, ctx: RequestContext, action: str,
                     target: str, status: str = "ok", **payload: Any) -> None:
        await self.audit.append(conn, ctx, self._event(ctx, action, target, status, **payload))

    async def put(self, ctx: RequestContext, name: str, value: str,
                  metadata: dict[str, Any] | None = None, cas: int | None = None,
                  max_versions: int | None = None,
                  if_match: str | None = None) -> tuple[SecretMetadata, bool]:
        """Write a new version; returns the metadata and whether the secret was created.

        PostgreSQL, optimistic, two round trips and no transaction: read the secret,
        check the expected version, seal version n + 1, then one statement that stores
        it (with its pointer, pruning and audit event) only if the secret is still at n.
        A writer that lost the race retries, unless it named the version it expected
        (412). After OPTIMISTIC_ATTEMPTS lost races the write takes the secret's row lock
        in a transaction instead, so a burst of writers on one secret all get through."""
        rules.check_name(name)
        plain = rules.encode_value(value)
        meta_json = rules.encode_metadata(metadata)
        if max_versions is not None and max_versions > self.max_versions:
            raise BadRequest(f"max_versions: at most {self.max_versions}")
        expected = rules.expected_version(cas, if_match)
        w = _Write(name, plain, meta_json, max_versions, expected)
        for attempt in range(WRITE_ATTEMPTS):
            if attempt < OPTIMISTIC_ATTEMPTS:
                async with self.db.statement(ctx) as conn:
                    done = await self._try_write(conn, ctx, w, lock=False)
            else:
                async with self.db.transaction(ctx) as conn:
                    done = await self._try_write(conn, ctx, w, lock=True)
            if done is not None:
                return done
        raise Conflict(f"{name}: changed by other writes on every attempt; retry the write")

    async def _try_write(self, conn: StatementConnection, ctx: RequestContext, w: _Write,
                         lock: bool) -> tuple[SecretMetadata, bool] | None:
        """One attempt; None when another write got there first."""
        t, p = ctx.tenant_id, ctx.person_id
        row = await repository.get_secret(conn, t, p, w.name, lock=lock)
        current = row.current_version if row else 0
        _check_expected(w.expected, current)
        secret_id = row.id if row else uuid.uuid4()
        dek, blob = await self.keys.encrypt(conn, KeyOwner(t, p), AAD_KIND, str(secret_id),
                                            w.plain, current + 1)
        event = self.audit.prepare(ctx, self._event(ctx, "vault.write", w.name,
                                                     version=current + 1))
        if row is None:
            written = await repository.create(conn, t, p, secret_id, w.name, blob, dek,
                                              w.meta_json or "{}",
                                              w.max_versions or self.max_versions, event)
        else:
            written = await repository.write_next(conn, t, p, row.id, current, blob, dek,
                                                  w.meta_json, w.max_versions, event)
        if written is None and w.expected is not None:
            raise PreconditionFailed(f"cas: expected version {w.expected}, but another "
                                     "write changed the secret first")
        return None if written is None else (_meta(written), row is None)

    async def read(self, ctx: RequestContext, name: str,
                   version: int | None = None) -> SecretValue:
        """One round trip on PostgreSQL: the secret, the version and the audit event
        (its status decided in SQL from what was found) in one statement. Decryption
        comes after the event, so a ciphertext that fails its integrity check (rare:
        server-side corruption) leaves two events: the read's, with status ok, then one
        with status integrity-error; the caller gets the error, never the value."""
        rules.check_name(name)
        error: UnisonError | None = None
        result: SecretValue | None = None
        async with self.db.statement(ctx) as conn:
            row, stored = await self.repo.read_audited(
                conn, ctx.tenant_id, ctx.person_id, name, version,
                self.audit.prepare(ctx, self._event(ctx, "vault.read", name)))
            wanted = version or (row.current_version if row else 0)
            error = rules.read_error(name, wanted, row, stored)
            if error is None:
                assert row is not None
                assert stored is not None
                result, error = await self._open(conn, ctx, row, wanted, stored)
        if error is not None:
            raise error
        assert result is not None
        return result

    async def _open(self, conn: StatementConnection, ctx: RequestContext, row: SecretRow,
                    version: int, stored: VersionRow
                    ) -> tuple[SecretValue | None, UnisonError | None]:
        assert stored.ciphertext is not None
        try:
            plain = await self.keys.decrypt(conn, KeyOwner(ctx.tenant_id, ctx.person_id),
                                            AAD_KIND, str(row.id), stored.dek_version,
                                            stored.ciphertext, version)
        except CryptoError:
            logger.error("vault ciphertext failed authentication",
                         extra={"tenant_id": ctx.tenant_id, "record_id": str(row.id),
                                "record_version": version})
            error = VaultIntegrityError(
                f"version {version} of {row.name} failed its integrity check and was not "
                "returned; the operators have been alerted by the server log")
            await self._audit(conn, ctx, "vault.read", row.name, error.code, version=version)
            return None, error
        return SecretValue(name=row.name, version=version, value=plain.decode(),
                           metadata=row.metadata, created_at=stored.created_at), None

    async def metadata(self, ctx: RequestContext, name: str) -> SecretDetail:
        rules.check_name(name)
        async with self.db.statement(ctx) as conn:
            row = await self.repo.get_secret(conn, ctx.tenant_id, ctx.person_id, name)
            if row is None:
                raise NotFound(f"no secret named {name}")
            versions = await self.repo.list_versions(conn, ctx.tenant_id, row.id)
            await self._audit(conn, ctx, "vault.metadata", name, version=row.current_version)
        return SecretDetail(**_meta(row).model_dump(), versions=[
            VersionOut(version=v.version, created_at=v.created_at,
                       destroyed=v.destroyed_at is not None, destroyed_at=v.destroyed_at)
            for v in versions])

    async def list(self, ctx: RequestContext, prefix: str, cursor: str | None, limit: int,
                   include_deleted: bool = False) -> SecretPage:
        after = rules.decode_cursor(cursor)
        async with self.db.statement(ctx) as conn:
            rows = await self.repo.list_secrets(conn, ctx.tenant_id, ctx.person_id, prefix,
                                                after, limit + 1, include_deleted)
            page = rows[:limit]
            await self._audit(conn, ctx, "vault.list", f"{prefix}*", count=len(page))
        next_cursor = rules.encode_cursor(page[-1].name) if len(rows) > limit else None
        return SecretPage(items=[_meta(r) for r in page], next_cursor=next_cursor)

    async def delete(self, ctx: RequestContext, name: str) -> None:
        """Soft delete: reads answer 410 and lists hide it until undelete or a new write."""
        await self._set_deleted(ctx, name, True)

    async def undelete(self, ctx: RequestContext, name: str) -> SecretMetadata:
        return _meta(await self._set_deleted(ctx, name, False))

    async def _set_deleted(self, ctx: RequestContext, name: str, deleted: bool) -> SecretRow:
        rules.check_name(name)
        async with self.db.transaction(ctx) as conn:
            row = await self.repo.set_deleted(conn, ctx.tenant_id, ctx.person_id, name, deleted)
            if row is None:
                raise NotFound(f"no secret named {name}")
            await self._audit(conn, ctx, "vault.delete" if deleted else "vault.undelete", name,
                              version=row.current_version)
        return row

    async def destroy(self, ctx: RequestContext, name: str,
                      versions: VersionList | None) -> DestroyResult:
        """Crypto-erase versions (None = all): their ciphertext is set to NULL, so no key
        can ever open them again. The metadata and version numbers stay."""
        rules.check_name(name)
        async with self.db.transaction(ctx) as conn:
            row = await self.repo.get_secret(conn, ctx.tenant_id, ctx.person_id, name, lock=True)
            if row is None:
                raise NotFound(f"no secret named {name}")
            if versions is not None:
                known = {v.version for v in await self.repo.list_versions(conn, ctx.tenant_id,
                                                                     row.id)}
                missing = sorted(set(versions) - known)
                if missing:
                    raise NotFound(f"versions: {missing} do not exist for {name}")
            destroyed = await self.repo.destroy(conn, ctx.tenant_id, row.id, versions)
            await self._audit(conn, ctx, "vault.destroy", name, versions=destroyed)
        return DestroyResult(name=name, destroyed=destroyed)

    async def rotate_data_key(self, ctx: RequestContext) -> int:
        """A new data key version for the caller's tenant; old ciphertexts keep opening."""
        async with self.db.transaction(ctx) as conn:
            version = await self.keys.rotate_data_key(conn, ctx.tenant_id)
            await self._audit(conn, ctx, "vault.rotate-data-key", "*", data_key_version=version)
        return version

    async def rotate_kek(self, ctx: RequestContext, path: Path) -> rotation.RotationResult:
        result = await rotation.rotate_kek(self.db, self.keys, path)
        async with self.db.transaction(ctx) as conn:
            await self._audit(conn, ctx, "vault.rotate-kek", "*",
                              kek_version=result.kek_version, rewrapped=result.rewrapped)
        return result
