"""What the data-key service and KEK rotation need from their repository; `repository`
(PostgreSQL) and `repository_sqlite` (development) both provide it, checked by mypy."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from . import repository, repository_sqlite
from .repository import WrappedKey


class KeysRepository(Protocol):
    async def latest(self, conn: AsyncConnection, tenant_id: str) -> WrappedKey | None: ...

    async def get(self, conn: AsyncConnection, tenant_id: str,
                  version: int) -> WrappedKey | None: ...

    async def insert_if_absent(self, conn: AsyncConnection, key: WrappedKey) -> None: ...

    async def all_keys(self, conn: AsyncConnection, lock: bool = False) -> list[WrappedKey]: ...

    async def count_by_kek(self, conn: AsyncConnection) -> dict[str, int]: ...

    async def lock_rotation(self, conn: AsyncConnection) -> None: ...

    async def rewrap(self, conn: AsyncConnection, tenant_id: str, version: int,
                     kek_version: str, wrapped: bytes) -> None: ...


_PG: KeysRepository = repository
_SQLITE: KeysRepository = repository_sqlite


def keys_repo(conn: AsyncConnection) -> KeysRepository:
    """The repository for the connection's dialect. DataKeyService is built without the
    Database (wiring fixes its constructor), so it asks each connection it is handed."""
    return _SQLITE if conn.dialect.name == "sqlite" else _PG
