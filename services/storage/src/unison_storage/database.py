"""The storage service's handle on PostgreSQL: tenant-scoped and system transactions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from unison_shared.auth import RequestContext
from unison_shared.db import system_transaction, tenant_transaction


class Database:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @asynccontextmanager
    async def scoped(self, ctx: RequestContext) -> AsyncIterator[AsyncConnection]:
        async with tenant_transaction(self.engine, ctx.tenant_id, ctx.person_id) as conn:
            yield conn

    @asynccontextmanager
    async def tenant(self, tenant_id: str) -> AsyncIterator[AsyncConnection]:
        async with tenant_transaction(self.engine, tenant_id) as conn:
            yield conn

    @asynccontextmanager
    async def system(self) -> AsyncIterator[AsyncConnection]:
        async with system_transaction(self.engine) as conn:
            yield conn
