"""KEK rotation for the context database: rewrap every person's data key under the
keyring's current KEK version, so older KEK versions can be retired. Data is not
re-encrypted (the data keys do not change)."""

from __future__ import annotations

from dataclasses import dataclass

from unison_shared.crypto import Keyring
from unison_shared.database import Database

from . import repository
from .repository import WrappedKey
from .service import key_aad


@dataclass(frozen=True)
class RewrapResult:
    kek_version: str
    rewrapped: int
    data_keys_by_kek: dict[str, int]


async def rewrap_all(db: Database, ring: Keyring) -> RewrapResult:
    """One system transaction; keys already under the current version are left alone."""
    count = 0
    async with db.system() as conn:
        for key in await repository.all_keys_locked(conn):
            if key.kek_version == ring.current:
                continue
            aad = key_aad(key.tenant_id, key.person_id, key.version)
            plain = ring.unwrap(key.kek_version, key.wrapped_key, aad)
            version, blob = ring.wrap(plain, aad)
            await repository.rewrap(conn, WrappedKey(key.tenant_id, key.person_id,
                                                     key.version, version, blob))
            count += 1
        by_kek = await repository.count_by_kek(conn)
    return RewrapResult(ring.current, count, by_kek)
