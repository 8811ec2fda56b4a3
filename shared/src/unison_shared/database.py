"""The one way a service reaches PostgreSQL: `Database`, and the request dependencies.

Request paths run on plain asyncpg connections from a `ScopedPool`. Before a connection
is handed out, the pool puts it in the caller's scope (`app.tenant_id`, `app.person_id`
as session settings), or finds it already there; row-level security
reads that scope. So every connection a request sees is in *its* caller's scope, never a
previous caller's: the pool sets the scope on every checkout whose recorded scope differs
(pgpool.py), and nothing hands out a connection without a scope.

A route takes its connection from a dependency:

- `DbConn`: a connection in autocommit. Each statement commits on its own: for a route
  that reads, or writes with one statement (no BEGIN/COMMIT round trips).
- `DbTx`: a connection inside one transaction that commits when the route function
  returns and rolls back when it raises (the request is the transaction). The commit
  happens before the response is sent (`scope="function"`), so a failed commit is an
  error answer, never an acknowledged write that was lost.

Code that cannot use a dependency (an upload that streams its body first, background
work, a service method that retries a transaction it lost a race in) opens the same
handles itself: `db.statement(ctx)` and `db.transaction(ctx)`.

The request paths of the storage service open `db.statement(ctx)` or
`db.transaction(ctx)` in their services rather than take `DbConn`/`DbTx`: a dependency
with `yield` keeps FastAPI's own request handler (compiled_routes.py plans none), which
costs those hot routes about a third more instructions per request.

System jobs (sweeps, reconcile, key rotation) use `db.system()`: a transaction on a
connection of the *system role* (`database_system_url`), whose own row-level security
policy shows it every tenant's rows, and `db.exclusive(name)`: a lock across replicas.
No setting a session can change widens what the runtime role sees.

`Database.register_metrics(registry)` puts both pools' figures on /metrics (`db_pool_*`,
labelled `pool="runtime"` or `pool="system"`), read from the pools when Prometheus
scrapes, so serving a request pays nothing for them (docs/observability.md).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeAlias

import asyncpg
from fastapi import Depends, Request
from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import QueuePool

from .auth import RequestContext, authenticated
from .jsonutil import nesting_exceeds
from .pgpool import ACQUIRE_BUCKETS, Lease, ScopedPool
from .sqlparams import Positional

# What a repository function takes: the asyncpg connection of a request path, or the
# SQLAlchemy connection of a system job (sweeps, rotation, reconcile) that runs the same
# statement across tenants; `fetch`/`fetchrow` run either through asyncpg.
StatementConnection: TypeAlias = "asyncpg.Connection | AsyncConnection"

def require_postgres_url(url: str) -> str:
    """The URL itself, or a ValueError that says what is wrong with it."""
    if not url.startswith("postgresql"):
        raise ValueError("the services run on PostgreSQL: the database URL must be "
                         "postgresql+asyncpg://... (make up runs an embedded server)")
    return url


def create_engine(url: str, pool_size: int = 5,
                  application_name: str = "unison") -> AsyncEngine:
    """SQLAlchemy's engine, for system jobs and migrations only (not request paths)."""
    return create_async_engine(
        require_postgres_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        connect_args={"server_settings": {"application_name": application_name},
                      "command_timeout": 30},
    )


# Stored JSON nested deeper than this is not decoded: no reply could carry it (orjson
# stops at 254 levels) and a parser may not survive it. New writes are refused far
# below it (settings.max_json_depth); databases written before that may hold such rows.
STORED_JSON_MAX_DEPTH = 200
UNREADABLE_JSON = {"unreadable": f"stored JSON nests deeper than {STORED_JSON_MAX_DEPTH} "
                                 "levels; overwrite or delete this record"}


def decode_stored_json(text: str) -> Any:
    """A json/jsonb value as Python; a marker instead of a value too deep to serve, so
    one such record never fails a read, or a list it appears in."""
    if text.count("[") + text.count("{") > STORED_JSON_MAX_DEPTH and nesting_exceeds(
            text.encode("utf-8", "surrogatepass"), STORED_JSON_MAX_DEPTH):
        return dict(UNREADABLE_JSON)
    return json.loads(text)


async def _setup_json_codecs(conn: asyncpg.Connection) -> None:
    # JSON goes in as JSON text and comes out decoded (the standard library keeps
    # integers of any size exact).
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=str, decoder=decode_stored_json,
                                  schema="pg_catalog", format="text")


async def create_statement_pool(url: str, size: int,
                                application_name: str = "unison") -> ScopedPool:
    """The pool of plain asyncpg connections the request paths use. Connections open on
    demand, up to `size`."""
    dsn = require_postgres_url(url).replace("postgresql+asyncpg://", "postgresql://", 1)

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


SYSTEM_POOL_SIZE = 2


class Database:
    """The process's handle on its database: one per process, built by the app's
    lifespan (`create_service_app(..., postgres=True)`), found at `app.state.database`."""

    def __init__(self, pool: ScopedPool, system_engine: AsyncEngine | None) -> None:
        self.pool = pool
        self._system_engine = system_engine
        self._metrics: tuple[CollectorRegistry, PoolCollector] | None = None

    def register_metrics(self, registry: CollectorRegistry) -> None:
        """Both pools' figures on `registry` (until `close`), read at scrape time."""
        collector = PoolCollector(self)
        registry.register(collector)
        self._metrics = (registry, collector)

    @classmethod
    async def open(cls, url: str, pool_size: int, application_name: str,
                   system_url: str | None = None) -> Database:
        """The runtime role's pool on `url`; the system role's engine on `system_url`
        (opened lazily: a process that runs no system job never connects with it)."""
        pool = await create_statement_pool(url, pool_size, application_name)
        engine = None if system_url is None else create_engine(
            system_url, SYSTEM_POOL_SIZE, f"{application_name}-system")
        return cls(pool, engine)

    async def close(self) -> None:
        if self._metrics is not None:
            registry, collector = self._metrics
            registry.unregister(collector)
            self._metrics = None
        await self.pool.close()
        if self._system_engine is not None:
            await self._system_engine.dispose()

    @property
    def engine(self) -> AsyncEngine:
        """The system role's engine (system jobs only)."""
        if self._system_engine is None:
            raise RuntimeError("system jobs need the system role: set "
                               "UNISON_DATABASE_SYSTEM_URL (docs/storage.md, Security)")
        return self._system_engine

    async def ping(self) -> None:
        """Readiness: one round trip on a pooled connection."""
        async with self.pool.connection() as conn:
            await conn.fetchval("SELECT 1")

    def statement(self, ctx: RequestContext) -> Lease:
        """A connection in autocommit, in the caller's scope."""
        return self.pool.connection((ctx.tenant_id, ctx.person_id))

    def in_tenant(self, tenant_id: str) -> Lease:
        """A connection in autocommit scoped to a tenant but no person: for a request
        that names a tenant without a person (a presigned download)."""
        return self.pool.connection((tenant_id, ""))

    @asynccontextmanager
    async def transaction(self, ctx: RequestContext) -> AsyncIterator[asyncpg.Connection]:
        """BEGIN, the caller's statements, COMMIT (ROLLBACK on error), in its scope."""
        async with self.pool.connection((ctx.tenant_id, ctx.person_id)) as conn, \
                conn.transaction():
            yield conn

    @asynccontextmanager
    async def system(self) -> AsyncIterator[AsyncConnection]:
        """A transaction of the system role, which sees every tenant: for sweepers and
        maintenance."""
        async with self.engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[bool]:
        """A named lock across every process on the database, held for the block if it
        was free: yields whether it was taken (never waits). A session advisory lock on a
        connection of its own, released at the end of the block or when it dies."""
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


# -- pool figures for /metrics


class PoolCollector:
    """`db_pool_*` for the runtime pool (the request paths' ScopedPool) and the system
    role's SQLAlchemy pool (its public `checkedout()`, `checkedin()`, `size()`), built
    when Prometheus scrapes."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def describe(self) -> Iterator[Metric]:
        return self.collect(empty=True)

    def collect(self, empty: bool = False) -> Iterator[Metric]:
        connections = GaugeMetricFamily(
            "db_pool_connections", "Open PostgreSQL connections by pool and state "
            "(in_use, idle, opening)", labels=["pool", "state"])
        most = GaugeMetricFamily("db_pool_max_connections",
                                 "The most connections the pool opens", labels=["pool"])
        waiting = GaugeMetricFamily("db_pool_waiting", "Callers waiting for a connection",
                                    labels=["pool"])
        acquire = HistogramMetricFamily(
            "db_pool_acquire_seconds", "Time a checkout waited for its connection (0 when "
            "an idle one was there; opening a connection counts)", labels=["pool"])
        timeouts = CounterMetricFamily("db_pool_acquire_timeouts",
                                       "Checkouts that found no connection in time",
                                       labels=["pool"])
        families: list[Metric] = [connections, most, waiting, acquire, timeouts]
        if empty:
            return iter(families)
        pool = self.database.pool
        for state, n in (("in_use", pool.in_use), ("idle", pool.idle),
                         ("opening", pool.opening)):
            connections.add_metric(["runtime", state], n)
        most.add_metric(["runtime"], pool.max_size)
        waiting.add_metric(["runtime"], pool.waiting)
        timeouts.add_metric(["runtime"], pool.acquire_timeouts)
        # Checkouts that found an idle connection waited 0 s: in every bucket.
        cumulative, buckets = pool.idle_checkouts, []
        for bound, n in zip((*ACQUIRE_BUCKETS, float("inf")), pool.wait_counts, strict=True):
            cumulative += n
            buckets.append(("+Inf" if bound == float("inf") else str(bound), cumulative))
        acquire.add_metric(["runtime"], buckets, pool.wait_seconds)
        engine = self.database._system_engine
        system = engine.pool if engine is not None else None
        if isinstance(system, QueuePool):
            connections.add_metric(["system", "in_use"], system.checkedout())
            connections.add_metric(["system", "idle"], system.checkedin())
            # create_engine allows as many overflow connections as the pool's size.
            most.add_metric(["system"], 2 * system.size())
        return iter(families)


# -- statements written with :name parameters, run through asyncpg


async def asyncpg_of(conn: asyncpg.Connection | AsyncConnection) -> asyncpg.Connection:
    """The asyncpg connection to run a statement on: the connection itself, or the one
    under a SQLAlchemy connection (in that connection's transaction: system jobs)."""
    if isinstance(conn, asyncpg.Connection):
        return conn
    raw = await conn.get_raw_connection()
    driver: asyncpg.Connection = raw.driver_connection
    return driver


async def fetchrow(conn: asyncpg.Connection | AsyncConnection, stmt: Positional,
                   params: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """One row of a `Positional` statement, as a tuple."""
    pg = await asyncpg_of(conn)
    row = await pg.fetchrow(stmt.sql, *stmt.args(params))
    return None if row is None else tuple(row.values())


async def fetch(conn: asyncpg.Connection | AsyncConnection, stmt: Positional,
                params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """Every row of a `Positional` statement, as tuples."""
    pg = await asyncpg_of(conn)
    return [tuple(r.values()) for r in await pg.fetch(stmt.sql, *stmt.args(params))]


# -- request dependencies


def database_of(request: Request) -> Database:
    db: Database = request.app.state.database
    return db


async def _request_connection(request: Request,
                              ctx: Annotated[RequestContext, Depends(authenticated)]
                              ) -> AsyncIterator[asyncpg.Connection]:
    async with database_of(request).statement(ctx) as conn:
        yield conn


async def _request_transaction(request: Request,
                               ctx: Annotated[RequestContext, Depends(authenticated)]
                               ) -> AsyncIterator[asyncpg.Connection]:
    async with database_of(request).transaction(ctx) as conn:
        yield conn


DbConn = Annotated[asyncpg.Connection, Depends(_request_connection, scope="function")]
DbTx = Annotated[asyncpg.Connection, Depends(_request_transaction, scope="function")]

