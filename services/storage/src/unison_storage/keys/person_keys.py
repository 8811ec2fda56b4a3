"""Per-person data keys: what seals a record that belongs to one person, so erasing the
person destroys the only keys that open it (crypto-shredding), without touching the
household's other persons.

A person has one key per tenant data key version, made on first use and wrapped by that
tenant key (which the KEK wraps): a KEK rotation rewraps the tenant keys and so covers
these, and a tenant key rotation moves each person to a new key as they next write.

Unwrapped keys are cached in process memory (never in Redis or logs) for
PERSON_KEY_TTL_SECONDS at most. An erasure evicts the person's keys from this process at
once; another replica keeps its copies until they expire. Within that time it could
still open a record of the erased person that something else held (the rows are gone),
and it could seal a write of the erased person that races the erasure under a destroyed
key (such a record can never be opened: it is as erased); and if the person writes
again at once through a replica that has seen the erasure, the new key of the same
version does not match the stale copy, so that replica answers integrity errors for
that person's new records until its copy expires.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from unison_shared.crypto import new_data_key, open_sealed, record_aad, seal
from unison_shared.database import StatementConnection

from . import person_repository as repo

PERSON_KEY_TTL_SECONDS = 60.0
_PRUNE_AT = 10_000

TenantKey = Callable[[StatementConnection, str, int], Awaitable[bytes]]


def person_key_aad(tenant_id: str, person_id: str, version: int) -> bytes:
    return record_aad(tenant_id, "person-data-key", person_id, version)


class PersonKeys:
    def __init__(self, tenant_key: TenantKey) -> None:
        self._tenant_key = tenant_key
        self._cache: dict[tuple[str, str, int], tuple[bytes, float]] = {}

    def _remember(self, key: tuple[str, str, int], plain: bytes) -> None:
        now = time.monotonic()
        if len(self._cache) >= _PRUNE_AT:
            self._cache = {k: v for k, v in self._cache.items() if v[1] > now}
        self._cache[key] = (plain, now + PERSON_KEY_TTL_SECONDS)

    def cached(self, tenant_id: str, person_id: str, version: int) -> bytes | None:
        hit = self._cache.get((tenant_id, person_id, version))
        if hit is None:
            return None
        if hit[1] <= time.monotonic():
            self._cache.pop((tenant_id, person_id, version), None)
            return None
        return hit[0]

    async def stored(self, conn: StatementConnection, tenant_id: str, person_id: str,
                     version: int) -> bytes | None:
        """The person's key of the version from the database (then cached); None when
        there is none (never made, or destroyed by an erasure). CryptoError when the
        tenant key cannot unwrap it."""
        wrapped = await repo.get(conn, tenant_id, person_id, version)
        if wrapped is None:
            return None
        tenant_key = await self._tenant_key(conn, tenant_id, version)
        plain = open_sealed(tenant_key, wrapped, person_key_aad(tenant_id, person_id, version))
        self._remember((tenant_id, person_id, version), plain)
        return plain

    async def for_sealing(self, conn: StatementConnection, tenant_id: str, person_id: str,
                          version: int, tenant_key: bytes) -> bytes:
        """The person's key of the tenant key version `version` (whose key is
        `tenant_key`), made now if the person has none."""
        cached = self.cached(tenant_id, person_id, version)
        if cached is not None:
            return cached
        aad = person_key_aad(tenant_id, person_id, version)
        wrapped = await repo.get(conn, tenant_id, person_id, version)
        if wrapped is None:
            # Not cached: the caller's transaction may still roll back, and a cached key
            # that exists nowhere would seal blobs nothing can open.
            wrapped = await repo.insert_if_absent(conn, tenant_id, person_id, version,
                                                  seal(tenant_key, new_data_key(), aad))
            return open_sealed(tenant_key, wrapped, aad)
        plain = open_sealed(tenant_key, wrapped, aad)
        self._remember((tenant_id, person_id, version), plain)
        return plain

    def forget(self, tenant_id: str, person_id: str) -> None:
        """Drop the person's keys from this process's cache."""
        for key in [k for k in self._cache if k[0] == tenant_id and k[1] == person_id]:
            self._cache.pop(key, None)

    async def destroy(self, conn: StatementConnection, tenant_id: str, person_id: str) -> int:
        """Delete the person's keys in the caller's transaction (crypto-shredding); call
        `forget` again once it has committed."""
        self.forget(tenant_id, person_id)
        return await repo.delete_person(conn, tenant_id, person_id)
