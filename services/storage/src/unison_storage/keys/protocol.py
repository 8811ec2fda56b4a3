"""What the data-key service and KEK rotation need from their repository; `repository`
(PostgreSQL) and `repository_sqlite` (development) both provide it, checked by mypy."""

from __future__ import annotations

from typing import Protocol

import asyncpg

from ..database import StatementConnection
from . import repository, repository_sqlite
from .repository import WrappedKey


class KeysRepository(Protocol):
    async def latest(self, conn: StatementConnection, tenant_id: str) -> WrappedKey | None: ...

    async def get(self, conn: StatementConnection, tenant_id: str,
                  version: int) -> WrappedKey | None: ...

    async def insert_if_absent(self, conn: StatementConnection, key: WrappedKey) -> None: ...

    async def all_keys(self, conn: StatementConnection, lock: bool = False) -> list[WrappedKey]: ...

    async def count_by_kek(self, conn: StatementConnection) -> dict[str, int]: ...

    async def lock_rotation(self, conn: StatementConnection) -> None: ...

    async def rewrap(self, conn: StatementConnection, tenant_id: str, version: int,
                     kek_version: str, wrapped: bytes) -> None: ...


_PG: KeysRepository = repository
_SQLITE: KeysRepository = repository_sqlite


def keys_repo(conn: StatementConnection) -> KeysRepository:
    """The repository for the connection's dialect. DataKeyService is built without the
    Database (wiring fixes its constructor), so it asks each connection it is handed."""
    if isinstance(conn, asyncpg.Connection) or conn.dialect.name != "sqlite":
        return _PG
    return _SQLITE
