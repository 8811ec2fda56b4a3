"""KEK rotation and rewrap, shared by the `rotate-kek` CLI and the admin route.

Order matters: the new keyring is saved (atomically, fsync'd) BEFORE any data key is
wrapped under it, so a crash can never leave a data key wrapped by a KEK that exists
nowhere. A crash between the save and the commit leaves the new version current but
unused; `rewrap-keys` finishes the job. Old KEK versions stay in the keyring, so every
process keeps unwrapping whatever it meets until an operator retires a version whose
count (`kek_status`) has dropped to zero.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from unison_shared.crypto import Keyring, save_keyring
from unison_shared.database import Database

from . import repository
from .service import DataKeyService


@dataclass(frozen=True)
class RotationResult:
    kek_version: str
    rewrapped: int
    data_keys_by_kek: dict[str, int]


def _read(path: Path) -> Keyring:
    return Keyring.from_json(path.read_text())


async def rotate_kek(db: Database, keys: DataKeyService, path: Path,
                     rewrap: bool = True) -> RotationResult:
    """Add a KEK version to the keyring file, make it current, and rewrap every data key."""
    async with db.system() as conn:
        await repository.lock_rotation(conn)
        # Re-read under the lock: another process may have rotated since we started.
        ring = (await asyncio.to_thread(_read, path)).with_new_version()
        await asyncio.to_thread(save_keyring, ring, path)
        count = await keys.rewrap_all(conn, ring) if rewrap else 0
        if not rewrap:
            keys.keyring = ring
        by_kek = await repository.count_by_kek(conn)
    return RotationResult(ring.current, count, by_kek)


async def rewrap_keys(db: Database, keys: DataKeyService, ring: Keyring) -> RotationResult:
    """Rewrap every data key under `ring.current` (finishes an interrupted rotation)."""
    async with db.system() as conn:
        await repository.lock_rotation(conn)
        count = await keys.rewrap_all(conn, ring)
        by_kek = await repository.count_by_kek(conn)
    return RotationResult(ring.current, count, by_kek)


async def kek_status(db: Database) -> dict[str, int]:
    async with db.system() as conn:
        return await repository.count_by_kek(conn)
