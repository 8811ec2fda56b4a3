"""Envelope encryption per person: each person has a data key (AES-256-GCM), wrapped by
the KEK; every ciphertext's AAD binds tenant, record kind, person and record, so a blob
copied to another row, person or tenant fails to open.

Unwrapped keys are cached in process memory only (bounded), never in Redis or logs.
"""

from __future__ import annotations

import logging

import asyncpg

from unison_shared.crypto import CryptoError, Keyring, new_data_key, open_sealed, record_aad, seal
from unison_shared.errors import PersonErased, UnisonError

from . import repository
from .repository import WrappedKey

CACHE_MAX = 50_000
logger = logging.getLogger("unison.context.keys")


class KeyMissing(CryptoError):
    """The person has no data key of the version a record names: it was destroyed."""


class IntegrityFailure(UnisonError):
    """A stored ciphertext did not open under its person's key and AAD: tampering, a row
    copied from elsewhere, or a lost key. Nothing of the record is returned."""

    status, code, title = 500, "integrity-failure", "A stored record failed its check"


def key_aad(tenant_id: str, person_id: str, version: int) -> bytes:
    return record_aad(tenant_id, "person-data-key", person_id, version)


class PersonKeys:
    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        self._cache: dict[tuple[str, str, int], bytes] = {}
        # A person's newest key version, remembered once seen committed (a key created
        # in the current transaction could still roll back). Context keys are never
        # rotated, so the newest version stays the newest.
        self._latest: dict[tuple[str, str], int] = {}

    def _remember(self, wrapped: WrappedKey) -> bytes:
        ident = (wrapped.tenant_id, wrapped.person_id, wrapped.version)
        if wrapped.uncommitted:
            # Created in the caller's transaction, which may yet roll back: a cached key
            # would outlive it and seal later records under a key that was never stored.
            self._cache.pop(ident, None)
            return self.keyring.unwrap(wrapped.kek_version, wrapped.wrapped_key,
                                       key_aad(*ident))
        key = self._cache.get(ident)
        if key is None:
            key = self.keyring.unwrap(wrapped.kek_version, wrapped.wrapped_key,
                                      key_aad(*ident))
            if len(self._cache) >= CACHE_MAX:
                self._cache.pop(next(iter(self._cache)))
            self._cache[ident] = key
        return key

    async def current(self, pg: asyncpg.Connection, tenant_id: str,
                      person_id: str) -> tuple[int, bytes]:
        """The person's newest data key, created on first use: call inside a transaction
        (the new key must commit with the first record sealed under it)."""
        known = self._latest.get((tenant_id, person_id))
        if known is not None:
            cached = self._cache.get((tenant_id, person_id, known))
            if cached is not None:
                return known, cached
        wrapped = await repository.latest(pg, tenant_id, person_id)
        if wrapped is not None and not wrapped.uncommitted:
            if len(self._latest) >= CACHE_MAX:
                self._latest.pop(next(iter(self._latest)))
            self._latest[(tenant_id, person_id)] = wrapped.version
        elif wrapped is None:
            kek_version, blob = self.keyring.wrap(new_data_key(),
                                                  key_aad(tenant_id, person_id, 1))
            await repository.insert_if_absent(
                pg, WrappedKey(tenant_id, person_id, 1, kek_version, blob))
            wrapped = await repository.get(pg, tenant_id, person_id, 1)
            assert wrapped is not None
        return wrapped.version, self._remember(wrapped)

    async def by_version(self, pg: asyncpg.Connection, tenant_id: str, person_id: str,
                         version: int) -> bytes:
        cached = self._cache.get((tenant_id, person_id, version))
        if cached is not None:
            return cached
        wrapped = await repository.get(pg, tenant_id, person_id, version)
        if wrapped is None:
            raise KeyMissing("the person's data key is missing")
        return self._remember(wrapped)

    def forget(self, tenant_id: str, person_id: str) -> int:
        """Drop the person's unwrapped keys from this process (after their wrapped keys
        were deleted: crypto-shredding); how many cache entries were dropped."""
        gone = [k for k in self._cache if k[0] == tenant_id and k[1] == person_id]
        for ident in gone:
            del self._cache[ident]
        self._latest.pop((tenant_id, person_id), None)
        return len(gone)

    def forget_all(self) -> None:
        self._cache.clear()
        self._latest.clear()

    def holds(self, tenant_id: str, person_id: str) -> bool:
        """Whether this process has any of the person's keys unwrapped."""
        return (tenant_id, person_id) in self._latest or any(
            k[0] == tenant_id and k[1] == person_id for k in self._cache)

    async def seal(self, pg: asyncpg.Connection, tenant_id: str, person_id: str, kind: str,
                   record: str, plaintext: bytes) -> tuple[int, bytes]:
        """(data key version, blob); AAD = tenant, kind, person, record."""
        version, key = await self.current(pg, tenant_id, person_id)
        return version, seal(key, plaintext, record_aad(tenant_id, kind, person_id, record))

    async def open(self, pg: asyncpg.Connection, tenant_id: str, person_id: str, kind: str,
                   record: str, dek_version: int, blob: bytes) -> bytes:
        try:
            key = await self.by_version(pg, tenant_id, person_id, dek_version)
            return open_sealed(key, blob, record_aad(tenant_id, kind, person_id, record))
        except KeyMissing as exc:
            logger.warning("sealed %s record of an erased person (tenant %s)", kind, tenant_id)
            raise PersonErased("the record's data key was destroyed when the person was "
                               "erased; its content cannot be returned") from exc
        except CryptoError as exc:
            # Ids and kinds only: never the blob or the key.
            logger.error("sealed %s record failed to open (tenant %s)", kind, tenant_id)
            raise IntegrityFailure() from exc
