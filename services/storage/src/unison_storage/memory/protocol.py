"""What the memory service needs from its repository; `repository` (PostgreSQL, asyncpg)
and `repository_sqlite` (development) both provide it, checked by mypy."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from ..database import StatementConnection
from .repository import Scope
from .schemas import MemoryEntry


class MemoryRepository(Protocol):
    async def write(self, pg: StatementConnection, scope: Scope, key: str | None,
                    keyspace: str, payload_json: str, ttl: int) -> MemoryEntry: ...

    async def latest(self, pg: StatementConnection, scope: Scope) -> MemoryEntry | None: ...

    async def has_expired(self, pg: StatementConnection, scope: Scope) -> bool: ...

    async def get(self, pg: StatementConnection, scope: Scope,
                  entry_id: int) -> MemoryEntry | None: ...

    async def by_key(self, pg: StatementConnection, scope: Scope,
                     key: str) -> MemoryEntry | None: ...

    async def list_entries(self, pg: StatementConnection, scope: Scope, before_id: int | None,
                           limit: int) -> list[MemoryEntry]: ...

    async def delete_entry(self, pg: StatementConnection, scope: Scope,
                           entry_id: int) -> bool: ...

    async def delete_key(self, pg: StatementConnection, scope: Scope, key: str) -> bool: ...

    async def delete_session(self, pg: StatementConnection, scope: Scope) -> int: ...

    async def sweep_expired(self, conn: AsyncConnection, batch: int) -> int: ...
