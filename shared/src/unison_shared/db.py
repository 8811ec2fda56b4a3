"""PostgreSQL plumbing: one async engine per process, and tenant-scoped transactions.

Row-level security policies compare each row's tenant with the `app.tenant_id` setting;
`tenant_transaction` sets it with `set_config(..., true)` so it lives exactly as long as
the transaction (safe with pooled connections). System jobs that must cross tenants
(TTL sweeps, reconcile) use `system_transaction`, which sets `app.system = on`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

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
