"""Envelope encryption for records: per-tenant data keys, wrapped by the KEK keyring,
and beneath them per-person data keys (person_keys.py).

A record of one person (`KeyOwner(tenant, person)`) is sealed under that person's key,
so erasing the person destroys what opens it; a record of the tenant (a tenant id, or
no person) under the tenant's key. Either way the returned `dek_version` is the tenant
key version, which the record stores. A person's record written before person keys
existed was sealed under the tenant key directly: `decrypt` falls back to it when the
person's key does not open the blob (AES-GCM authenticates, so the wrong key never
yields plaintext).

Unwrapped data keys are cached in process memory (never in Redis or logs) so a hot
read costs one AES-GCM operation, not a key fetch.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import NamedTuple

from unison_shared.crypto import (
    CryptoError,
    Keyring,
    new_data_key,
    open_sealed,
    record_aad,
    seal,
)
from unison_shared.database import StatementConnection
from unison_shared.errors import PersonErased

from . import repository
from .person_keys import PersonKeys
from .repository import WrappedKey

logger = logging.getLogger("unison.storage.keys")

LATEST_KEY_TTL_SECONDS = 30.0


class KeyOwner(NamedTuple):
    """Whose data key seals a record: one person's of the tenant, or (person "") the
    tenant's. `encrypt` and `decrypt` take one, or a tenant id alone."""
    tenant_id: str
    person_id: str = ""


def _owner(owner: str | KeyOwner) -> KeyOwner:
    return owner if isinstance(owner, KeyOwner) else KeyOwner(owner)


def _key_aad(tenant_id: str, version: int) -> bytes:
    return record_aad(tenant_id, "data-key", tenant_id, version)


class DataKeyService:
    def __init__(self, keyring: Keyring,
                 reload_keyring: Callable[[], Keyring] | None = None) -> None:
        self.keyring = keyring
        self._reload_keyring = reload_keyring
        self._cache: dict[tuple[str, int], bytes] = {}
        # Each tenant's newest data key version, remembered briefly to save a query per
        # write. After a rotation on another replica this one seals with the previous
        # version for at most LATEST_KEY_TTL_SECONDS: still a valid, readable key.
        self._latest: dict[str, tuple[int, float]] = {}
        self.persons = PersonKeys(self._by_version)

    async def _current(self, conn: StatementConnection, tenant_id: str) -> tuple[int, bytes]:
        known = self._latest.get(tenant_id)
        if known is not None and time.monotonic() - known[1] < LATEST_KEY_TTL_SECONDS:
            return known[0], self._cache[(tenant_id, known[0])]
        repo = repository
        wrapped = await repo.latest(conn, tenant_id)
        if wrapped is not None:
            # Only a key that existed before this transaction is remembered: one created
            # just now could still roll back, and a blob must never name a missing key.
            key = self._unwrap(wrapped)
            self._latest[tenant_id] = (wrapped.version, time.monotonic())
            return wrapped.version, key
        kek_version, blob = self.keyring.wrap(new_data_key(), _key_aad(tenant_id, 1))
        await repo.insert_if_absent(conn, WrappedKey(tenant_id, 1, kek_version, blob))
        wrapped = await repo.get(conn, tenant_id, 1)
        assert wrapped is not None
        return wrapped.version, self._unwrap(wrapped)

    def _unwrap(self, wrapped: WrappedKey) -> bytes:
        cached = self._cache.get((wrapped.tenant_id, wrapped.version))
        if cached is None:
            if wrapped.kek_version not in self.keyring.keys and self._reload_keyring:
                # Another replica rotated the KEK and rewrapped this key: pick up the
                # new keyring file instead of failing until a restart.
                self.keyring = self._reload_keyring()
            cached = self.keyring.unwrap(wrapped.kek_version, wrapped.wrapped_key,
                                         _key_aad(wrapped.tenant_id, wrapped.version))
            self._cache[(wrapped.tenant_id, wrapped.version)] = cached
        return cached

    async def _by_version(self, conn: StatementConnection, tenant_id: str, version: int) -> bytes:
        cached = self._cache.get((tenant_id, version))
        if cached is not None:
            return cached
        wrapped = await repository.get(conn, tenant_id, version)
        if wrapped is None:
            raise LookupError(f"data key version {version} is missing for the tenant")
        return self._unwrap(wrapped)

    async def encrypt(self, conn: StatementConnection, owner: str | KeyOwner, kind: str,
                      record_id: str, plaintext: bytes,
                      record_version: int = 0) -> tuple[int, bytes]:
        """Seal under the owner's key (the person's, else the tenant's) of the tenant's
        newest data key version; returns (that version, blob). `record_version` joins
        the AAD so a blob cannot be replayed as another version."""
        tenant_id, person_id = _owner(owner)
        version, key = await self._current(conn, tenant_id)
        if person_id:
            key = await self.persons.for_sealing(conn, tenant_id, person_id, version, key)
        return version, seal(key, plaintext,
                             record_aad(tenant_id, kind, record_id, record_version))

    async def decrypt(self, conn: StatementConnection, owner: str | KeyOwner, kind: str,
                      record_id: str, dek_version: int, blob: bytes,
                      record_version: int = 0) -> bytes:
        """Open a blob of the owner (the record's person, or the tenant); raises
        CryptoError on tampering, a wrong AAD, or a missing key (a person's records
        once the person was erased)."""
        tenant_id, person_id = _owner(owner)
        aad = record_aad(tenant_id, kind, record_id, record_version)
        person_has_key = False
        try:
            if person_id:
                opened, person_has_key = await self._open_as_person(
                    conn, tenant_id, person_id, dek_version, blob, aad)
                if opened is not None:
                    return opened
            key = await self._by_version(conn, tenant_id, dek_version)
        except LookupError as exc:
            raise CryptoError(str(exc)) from exc
        try:
            return open_sealed(key, blob, aad)
        except CryptoError as exc:
            if person_id and not person_has_key:
                # Neither the person's key (there is none: destroyed by an erasure, the
                # record came back with an older backup) nor the tenant's opens it.
                logger.warning("sealed %s record of a person without keys", kind)
                raise PersonErased("the record's data key was destroyed when the person "
                                   "was erased; its content cannot be returned") from exc
            raise

    async def _open_as_person(self, conn: StatementConnection, tenant_id: str,
                              person_id: str, version: int, blob: bytes,
                              aad: bytes) -> tuple[bytes | None, bool]:
        """(the blob opened with the person's key of the version, whether the person has
        that key); None when the person has no such key or it does not open the blob
        (then the tenant key may: a record sealed before person keys existed)."""
        key = self.persons.cached(tenant_id, person_id, version)
        if key is None:
            key = await self.persons.stored(conn, tenant_id, person_id, version)
        if key is None:
            return None, False
        try:
            return open_sealed(key, blob, aad), True
        except CryptoError:
            return None, True

    async def destroy_person_keys(self, conn: StatementConnection, tenant_id: str,
                                  person_id: str) -> int:
        """Delete the person's data keys in the caller's transaction (crypto-shredding);
        call `forget_person` once it has committed."""
        return await self.persons.destroy(conn, tenant_id, person_id)

    def forget_person(self, tenant_id: str, person_id: str) -> None:
        self.persons.forget(tenant_id, person_id)

    async def rotate_data_key(self, conn: StatementConnection, tenant_id: str) -> int:
        """Add a new data key version for the tenant: new writes use it, and blobs sealed
        under older versions keep opening (each blob records its data key version)."""
        repo = repository
        latest = await repo.latest(conn, tenant_id)
        version = (latest.version if latest else 0) + 1
        kek_version, blob = self.keyring.wrap(new_data_key(), _key_aad(tenant_id, version))
        await repo.insert_if_absent(conn, WrappedKey(tenant_id, version, kek_version, blob))
        self._latest.pop(tenant_id, None)
        return version

    async def rewrap_all(self, conn: StatementConnection, new_ring: Keyring) -> int:
        """Re-wrap every tenant's data keys under new_ring's current KEK (a system job)."""
        count = 0
        repo = repository
        for wrapped in await repo.all_keys(conn, lock=True):
            if wrapped.kek_version == new_ring.current:
                continue
            plain = new_ring.unwrap(wrapped.kek_version, wrapped.wrapped_key,
                                    _key_aad(wrapped.tenant_id, wrapped.version))
            kek_version, blob = new_ring.wrap(plain, _key_aad(wrapped.tenant_id, wrapped.version))
            await repo.rewrap(conn, wrapped.tenant_id, wrapped.version, kek_version, blob)
            count += 1
        self.keyring = new_ring
        return count
