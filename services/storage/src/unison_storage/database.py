"""The storage service's handle on its database.

PostgreSQL: the request paths run on plain asyncpg connections from a ScopedPool
(`statement`: single statements in autocommit; `transaction`; `self_scoped`), whose
session scope (tenant, person) the pool sets, or finds already set, before handing them
out; row-level security reads it. Maintenance and the less travelled paths (an upload's
quota check and insert, audit queries, sweeper, KEK rotation, reconcile) use SQLAlchemy
transactions with the scope set transaction-locally (`scoped`, `tenant`, `system`).

SQLite (ENVIRONMENT=dev only): every handle, `statement` included, is a SQLAlchemy
connection inside one transaction. There is no row-level security and nothing to set:
the explicit `tenant_id = ... AND person_id = ...` in every SQLite repository query is
the only tenant fence.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeAlias

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from unison_shared.auth import RequestContext
from unison_shared.db import system_transaction, tenant_transaction
from unison_shared.pgpool import ScopedPool
from unison_shared.sqlparams import Positional

# What `Database.statement` yields: an asyncpg connection in autocommit on PostgreSQL, a
# SQLAlchemy connection in a transaction on SQLite. Hot-path repositories take either,
# each module the one its dialect hands out.
StatementConnection: TypeAlias = "asyncpg.Connection | AsyncConnection"

async def asyncpg_of(conn: StatementConnection) -> asyncpg.Connection:
    """The asyncpg connection to run a PostgreSQL statement on: the connection itself, or
    the one under a SQLAlchemy connection (in that connection's transaction)."""
    if isinstance(conn, asyncpg.Connection):
        return conn
    raw = await conn.get_raw_connection()
    driver: asyncpg.Connection = raw.driver_connection
    return driver


async def fetchrow(conn: StatementConnection, stmt: Positional,
                   params: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """One row of a `Positional` statement, run through asyncpg, as a tuple."""
    pg = await asyncpg_of(conn)
    row = await pg.fetchrow(stmt.sql, *stmt.args(params))
    return None if row is None else tuple(row.values())


async def fetch(conn: StatementConnection, stmt: Positional,
                params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """Every row of a `Positional` statement, run through asyncpg, as tuples."""
    pg = await asyncpg_of(conn)
    return [tuple(r.values()) for r in await pg.fetch(stmt.sql, *stmt.args(params))]


def sqlite_connection(conn: StatementConnection) -> AsyncConnection:
    """The SQLAlchemy connection a SQLite repository was handed (checked, not assumed)."""
    if not isinstance(conn, AsyncConnection):
        raise TypeError("SQLite repositories run on SQLAlchemy connections")
    return conn


class Database:
    def __init__(self, engine: AsyncEngine, pool: ScopedPool | None = None) -> None:
        self.engine = engine
        self.pool = pool
        self.dialect = engine.dialect.name
        self.is_sqlite = self.dialect == "sqlite"

    @asynccontextmanager
    async def scoped(self, ctx: RequestContext) -> AsyncIterator[AsyncConnection]:
        if self.is_sqlite:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with tenant_transaction(self.engine, ctx.tenant_id, ctx.person_id) as conn:
            yield conn

    @asynccontextmanager
    async def transaction(self, ctx: RequestContext) -> AsyncIterator[StatementConnection]:
        """`scoped`, on the asyncpg pool: BEGIN, the caller's statements, COMMIT (ROLLBACK
        on error), without SQLAlchemy's execution layer, which costs several times more
        per statement. The scope is the connection's session scope, set by the pool
        before BEGIN (or found already set). On SQLite, a SQLAlchemy connection in a
        transaction, as `scoped`."""
        if self.is_sqlite:
            async with self.engine.begin() as conn:
                yield conn
            return
        if self.pool is None:
            raise RuntimeError("Database.transaction needs the statement pool")
        async with self.pool.connection((ctx.tenant_id, ctx.person_id)) as pg, \
                pg.transaction():
            yield pg

    @asynccontextmanager
    async def tenant(self, tenant_id: str) -> AsyncIterator[AsyncConnection]:
        if self.is_sqlite:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with tenant_transaction(self.engine, tenant_id) as conn:
            yield conn

    @asynccontextmanager
    async def system(self) -> AsyncIterator[AsyncConnection]:
        if self.is_sqlite:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with system_transaction(self.engine) as conn:
            yield conn

    def statement(self, ctx: RequestContext
                  ) -> AbstractAsyncContextManager[StatementConnection]:
        """An asyncpg connection in autocommit with the caller's scope set (at session
        level: the pool skips the statement when the connection already carries it), for
        single statements: one or two round trips instead of BEGIN, scope, statement and
        COMMIT. On SQLite, a SQLAlchemy connection in a transaction of its own.

        (The pool's lease itself, not a generator wrapped around it: this is on every
        database request's path.)"""
        if self.is_sqlite:
            return self.engine.begin()
        if self.pool is None:
            raise RuntimeError("Database.statement needs the statement pool")
        return self.pool.connection((ctx.tenant_id, ctx.person_id))

    def self_scoped(self) -> AbstractAsyncContextManager[StatementConnection]:
        """A connection for ONE call to a SQL function that scopes itself from its
        arguments (`audit_append`): one round trip, no scope statement first.

        On PostgreSQL the connection is in autocommit and its session scope is whatever
        its previous user set, so nothing else may run on it: a plain query here could
        see another tenant's rows. Everything else uses `statement(ctx)`. On SQLite, a
        SQLAlchemy connection in a transaction of its own."""
        if self.is_sqlite:
            return self.engine.begin()
        if self.pool is None:
            raise RuntimeError("Database.self_scoped needs the statement pool")
        return self.pool.connection()

    @asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[bool]:
        """A named lock across every process on the database, held for the block if it
        was free: yields whether it was taken (never waits). A PostgreSQL session
        advisory lock on a connection of its own, released at the end of the block or
        when that connection dies. On SQLite (one development process), always taken."""
        if self.is_sqlite:
            yield True
            return
        async with self.engine.connect() as conn:
            auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
            taken = bool((await auto.execute(
                text("SELECT pg_try_advisory_lock(hashtext(:n))"), {"n": name})).scalar())
            try:
                yield taken
            finally:
                if taken:
                    await auto.execute(text("SELECT pg_advisory_unlock(hashtext(:n))"),
                                       {"n": name})
