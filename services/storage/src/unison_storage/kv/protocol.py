"""What the KV service needs from its repository; `repository` (PostgreSQL, asyncpg) and
`repository_sqlite` (development) both provide it, checked by mypy."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from ..database import StatementConnection
from .repository import KVRow, KVWrite


class KVRepository(Protocol):
    async def get(self, pg: StatementConnection, tenant: str, person: str, ns: str,
                  key: str) -> KVRow | None: ...

    async def put(self, pg: StatementConnection, tenant: str, person: str, ns: str,
                  key: str, w: KVWrite) -> KVRow: ...

    async def put_if_absent(self, pg: StatementConnection, tenant: str, person: str,
                            ns: str, key: str, w: KVWrite) -> KVRow | None: ...

    async def put_if_version(self, pg: StatementConnection, tenant: str, person: str,
                             ns: str, key: str, w: KVWrite,
                             expected_version: int) -> KVRow | None: ...

    async def delete(self, pg: StatementConnection, tenant: str, person: str, ns: str,
                     key: str, expected_version: int | None) -> bool: ...

    async def list_keys(self, pg: StatementConnection, tenant: str, person: str, ns: str,
                        prefix: str, after: str, limit: int) -> list[KVRow]: ...

    async def sweep_expired(self, conn: AsyncConnection, batch: int) -> int: ...
