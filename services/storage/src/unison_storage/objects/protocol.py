"""What the object service and reconcile need from their repository; `repository`
(PostgreSQL) and `repository_sqlite` (development) both provide it, checked by mypy."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from ..database import StatementConnection
from .repository import ListFilter, NewObject, ObjectRow


class ObjectRepository(Protocol):
    async def get(self, conn: StatementConnection, tenant: str, person: str,
                  object_id: str) -> ObjectRow | None: ...

    async def get_in_tenant(self, conn: StatementConnection, tenant: str,
                            object_id: str) -> ObjectRow | None: ...

    async def lock_tenant_quota(self, conn: AsyncConnection, tenant: str) -> None: ...

    async def tenant_usage(self, conn: AsyncConnection, tenant: str) -> int: ...

    async def insert(self, conn: AsyncConnection, tenant: str, person: str,
                     new: NewObject) -> ObjectRow: ...

    async def get_for_update(self, conn: AsyncConnection, tenant: str,
                             object_id: str) -> ObjectRow | None: ...

    async def replace(self, conn: AsyncConnection, tenant: str, person: str,
                      new: NewObject) -> ObjectRow: ...

    async def delete(self, conn: StatementConnection, tenant: str, person: str,
                     object_id: str) -> str | None: ...

    async def list_objects(self, conn: StatementConnection, tenant: str, person: str,
                           f: ListFilter, after: tuple[datetime, str] | None,
                           limit: int) -> list[ObjectRow]: ...

    async def known_keys(self, conn: AsyncConnection, keys: list[str]) -> set[str]: ...

    async def rows_after(self, conn: AsyncConnection, after_key: str,
                         limit: int) -> list[tuple[str, str, str]]: ...

    async def delete_by_key(self, conn: AsyncConnection, storage_key: str) -> bool: ...
