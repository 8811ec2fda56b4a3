"""Object payload stores (placeholder until the objects domain lands)."""

from __future__ import annotations

from typing import Protocol

from ..settings import StorageSettings


class ObjectStore(Protocol):
    async def check(self) -> None:
        """Raise when the backend is unreachable (used by readiness)."""


class _Unconfigured:
    async def check(self) -> None:
        return None

    async def close(self) -> None:
        return None


def create_object_store(settings: StorageSettings) -> ObjectStore:
    return _Unconfigured()
