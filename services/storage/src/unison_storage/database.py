"""The storage service's handle on PostgreSQL: tenant-scoped and system transactions
(SQLAlchemy engine), and single scoped statements for hot paths (an asyncpg pool)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from unison_shared.auth import RequestContext
from unison_shared.db import system_transaction, tenant_transaction

# Session-level (not transaction-local) scope for the statement pool's autocommit
# statements. Every checkout sets all three before its statement, so a value left on a
# connection by its previous user is always overwritten before anything reads a table.
# The engine's transactions (`scoped`, `system`) set transaction-local values instead.
_SESSION_SCOPE = ("SELECT set_config('app.tenant_id', $1, false), "
                  "set_config('app.person_id', $2, false), set_config('app.system', '', false)")


async def driver_connection(conn: AsyncConnection) -> asyncpg.Connection:
    """The asyncpg connection under a SQLAlchemy connection, in its transaction."""
    raw = await conn.get_raw_connection()
    driver: asyncpg.Connection = raw.driver_connection
    return driver


class Database:
    def __init__(self, engine: AsyncEngine, pool: asyncpg.Pool | None = None) -> None:
        self.engine = engine
        self.pool = pool

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

    @asynccontextmanager
    async def statement(self, ctx: RequestContext) -> AsyncIterator[asyncpg.Connection]:
        """An asyncpg connection in autocommit with the caller's scope set: for a single
        statement, two round trips instead of BEGIN, scope, statement and COMMIT."""
        if self.pool is None:
            raise RuntimeError("Database.statement needs the statement pool")
        async with self.pool.acquire() as pg:
            await pg.execute(_SESSION_SCOPE, ctx.tenant_id, ctx.person_id)
            yield pg
