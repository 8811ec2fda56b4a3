"""Database plumbing: one async engine per process, and tenant-scoped transactions.

Row-level security policies compare each row's tenant with the `app.tenant_id` setting;
`tenant_transaction` sets it with `set_config(..., true)` so it lives exactly as long as
the transaction (safe with pooled connections). System jobs that must cross tenants
(TTL sweeps, reconcile) use `system_transaction`, which sets `app.system = on`.

SQLite (`sqlite+aiosqlite://`) is accepted for development only: the settings refuse it
outside ENVIRONMENT=dev, and `create_engine` refuses it unless the caller says so too.
It has no row-level security: its repositories' explicit tenant filters are the only fence.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from .errors import UnisonError
from .pgpool import ScopedPool

_SET_SCOPE = text(
    "SELECT set_config('app.tenant_id', :tenant, true), "
    "set_config('app.person_id', :person, true)"
)
_SET_SYSTEM = text("SELECT set_config('app.system', 'on', true)")


SQLITE_BUSY_TIMEOUT_MS = 5000


class UnstorableValue(UnisonError):
    """What PostgreSQL answers with SQLSTATE class 22 (a NUL in text, invalid Unicode),
    raised by the SQLite engine for the same values, so both backends refuse alike."""

    status, code, title = 422, "unstorable-value", "Unstorable value"


def _refuse_unstorable(parameters: Any) -> None:
    values = parameters.values() if isinstance(parameters, dict) else parameters or ()
    for value in values:
        if isinstance(value, str):
            if "\x00" in value:
                raise UnstorableValue("a value in the request cannot be stored: "
                                      "text must not contain NUL characters")
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise UnstorableValue("a value in the request cannot be stored: "
                                      "text must be valid Unicode") from None


def is_sqlite_url(url: str) -> bool:
    return url.startswith("sqlite")


def create_engine(url: str, pool_size: int = 20, application_name: str = "unison",
                  *, allow_sqlite: bool = False) -> AsyncEngine:
    """The process's engine. `allow_sqlite` is the caller saying ENVIRONMENT=dev: a second
    guard behind the settings, for code paths that build an engine from a bare URL."""
    if is_sqlite_url(url):
        if not allow_sqlite:
            raise ValueError("SQLite is a development convenience only: set ENVIRONMENT=dev "
                             "or point the database URL at PostgreSQL")
        return create_sqlite_engine(url)
    if not url.startswith("postgresql"):
        raise ValueError("the services need PostgreSQL (SQLite in development only): "
                         "database URL must be postgresql+asyncpg://")
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=False,
        pool_recycle=1800,
        connect_args={"server_settings": {"application_name": application_name},
                      "command_timeout": 30},
    )


def create_sqlite_engine(url: str, begin: str = "BEGIN IMMEDIATE") -> AsyncEngine:
    """A SQLite engine whose transactions take the write lock up front.

    SQLite allows one writer: a transaction that reads first and writes later would have
    to upgrade its lock and can fail at once with "database is locked" when another holds
    it. `BEGIN IMMEDIATE` makes every transaction wait (up to busy_timeout) for the lock
    instead, so writers serialise rather than fail. One pooled connection per process
    queues its transactions in asyncio instead of in SQLite's busy-wait loop; a second
    process (a CLI job, `make up`) still waits on busy_timeout. Migrations pass a plain
    BEGIN (DDL in one transaction, nothing to upgrade)."""
    if not url.startswith("sqlite+aiosqlite://"):
        raise ValueError("SQLite needs the async driver: sqlite+aiosqlite:///path/file.db")
    engine = create_async_engine(url, pool_size=1, max_overflow=0, pool_timeout=60)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy (below) emit BEGIN instead of the sqlite3 module's legacy mode.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in ("foreign_keys=ON", "journal_mode=WAL",
                       f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}", "synchronous=NORMAL"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _check(_conn: Any, _cursor: Any, _statement: str, parameters: Any, _context: Any,
               executemany: bool) -> None:
        # SQLite would store these; PostgreSQL refuses them. Refuse them here too, so
        # data written in development always fits production.
        for params in (parameters if executemany else [parameters]):
            _refuse_unstorable(params)

    return engine


@asynccontextmanager
async def tenant_transaction(engine: AsyncEngine, tenant_id: str,
                             person_id: str = "") -> AsyncIterator[AsyncConnection]:
    """One transaction scoped to a tenant: commits on success, rolls back on error."""
    async with engine.begin() as conn:
        await conn.execute(_SET_SCOPE, {"tenant": tenant_id, "person": person_id})
        yield conn


@asynccontextmanager
async def system_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A transaction allowed to see every tenant: for sweepers and maintenance only."""
    async with engine.begin() as conn:
        await conn.execute(_SET_SYSTEM)
        yield conn


async def _setup_json_codecs(conn: asyncpg.Connection) -> None:
    # Same convention as the engine's connections: JSON goes in as JSON text and comes
    # out decoded (the standard library keeps integers of any size exact).
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=str, decoder=json.loads,
                                  schema="pg_catalog", format="text")


async def create_statement_pool(url: str, size: int,
                                application_name: str = "unison") -> ScopedPool:
    """A pool of plain asyncpg connections for the hot paths: single scoped statements
    and short transactions, without SQLAlchemy's execution layer. It remembers the
    session scope of each connection, so a caller finding one already in its scope
    skips that statement (pgpool.py). Connections open on demand, up to `size`."""
    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)

    async def connect() -> asyncpg.Connection:
        conn: asyncpg.Connection = await asyncpg.connect(
            dsn, command_timeout=30, server_settings={"application_name": application_name})
        try:
            await _setup_json_codecs(conn)
        except BaseException:
            conn.terminate()
            raise
        return conn

    return ScopedPool(connect, size)
