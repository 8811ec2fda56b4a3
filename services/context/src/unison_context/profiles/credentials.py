"""PIN/passcode hashing with argon2id (argon2-cffi): salted, slow, verified with the
library's constant-time comparison. Hashing runs in a worker thread (it is CPU-bound)."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ..settings import ContextOptions


class PinHasher:
    def __init__(self, opts: ContextOptions) -> None:
        self._hasher = PasswordHasher(time_cost=opts.pin_time_cost,
                                      memory_cost=opts.pin_memory_cost_kib,
                                      parallelism=opts.pin_parallelism)
        # Verified against when a person has no credential of that kind, so a miss
        # costs as long as a wrong guess.
        self._decoy = self._hasher.hash("decoy-credential")

    async def hash(self, secret: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, secret)

    def _verify(self, stored: str | None, secret: str) -> bool:
        try:
            return self._hasher.verify(stored or self._decoy, secret) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def verify(self, stored: str | None, secret: str) -> bool:
        return await asyncio.to_thread(self._verify, stored, secret)
