"""PostgreSQL plumbing: one async engine per process, and tenant-scoped transactions.

Row-level security policies compare each row's tenant with the `app.tenant_id` setting;
`tenant_transaction` sets it with `set_config(..., true)` so it lives exactly as long as
the transaction (safe with pooled connections). System jobs that must cross tenants
(TTL sweeps, reconcile) use `system_transaction`, which sets `app.system = on`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

_SET_SCOPE = text(
    "SELECT set_config('app.tenant_id', :tenant, true), "
    "set_config('app.person_id', :person, true)"
)
_SET_SYSTEM = text("SELECT set_config('app.system', 'on', true)")


def create_engine(url: str, pool_size: int = 20, application_name: str = "unison") -> AsyncEngine:
    if not url.startswith("postgresql"):
        raise ValueError("the services need PostgreSQL: database URL must be postgresql+asyncpg://")
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=False,
        pool_recycle=1800,
        connect_args={"server_settings": {"application_name": application_name},
                      "command_timeout": 30},
    )


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


async def _reset_if_needed(conn: asyncpg.Connection) -> None:
    # asyncpg's default reset runs four statements on every release; statements on this
    # pool run in autocommit, so only a transaction left open by an error needs undoing.
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


async def _setup_json_codecs(conn: asyncpg.Connection) -> None:
    # Same convention as the engine's connections: JSON goes in as JSON text and comes
    # out decoded (the standard library keeps integers of any size exact).
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=str, decoder=json.loads,
                                  schema="pg_catalog", format="text")


async def create_statement_pool(url: str, size: int,
                                application_name: str = "unison") -> asyncpg.Pool:
    """A pool of plain asyncpg connections for single-statement hot paths.

    Checkout costs a fraction of the engine's (measured in docs/performance.md), and the
    pool replaces a connection that died while it was out."""
    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    pool: asyncpg.Pool = await asyncpg.create_pool(
        dsn, min_size=0, max_size=size, reset=_reset_if_needed, init=_setup_json_codecs,
        max_inactive_connection_lifetime=300, command_timeout=30,
        server_settings={"application_name": application_name})
    return pool
