"""What the Alembic environments and migrations share: the env.py body, DDL helpers."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

TENANT_VISIBLE_FN = """
CREATE OR REPLACE FUNCTION app_tenant_visible(row_tenant text) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT row_tenant = current_setting('app.tenant_id', true)
      OR coalesce(current_setting('app.system', true), '') = 'on'
$$;
"""


def enable_tenant_rls(execute: Callable[[str], object], table: str) -> None:
    """Row-level security on `table`: a row is visible and writable only inside a
    transaction scoped to its tenant (FORCE applies it to the table owner too)."""
    execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    execute(
        f"CREATE POLICY {table}_tenant ON {table} "
        f"USING (app_tenant_visible(tenant_id)) WITH CHECK (app_tenant_visible(tenant_id))"
    )


def migrations_dir() -> Path:
    """The repository's `migrations/` (alembic.ini with one section per PostgreSQL
    service), or UNISON_MIGRATIONS_DIR where an image puts it elsewhere."""
    configured = os.environ.get("UNISON_MIGRATIONS_DIR")
    if configured:
        return Path(configured)
    # shared/src/unison_shared/migration_helpers.py -> repository root
    return Path(__file__).resolve().parents[3] / "migrations"


def alembic_upgrade(section: str, url: str, revision: str = "head") -> None:
    """`alembic upgrade` of one service's database (its section of alembic.ini): what
    each service's `migrate` command, `make up` and the test fixtures run."""
    from alembic import command
    from alembic.config import Config

    if not url.startswith("postgresql"):
        raise ValueError("migrations run on PostgreSQL: postgresql+asyncpg://...")
    cfg = Config(str(migrations_dir() / "alembic.ini"), ini_section=section)
    cfg.cmd_opts = None
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(cfg, revision)


def run_async_env(context: ModuleType, default_version_table: str) -> None:
    """The body of an Alembic env.py: the URL from `-x url=...`, the ini section or
    UNISON_DATABASE_URL, then every pending revision on a NullPool async engine (one
    connection, closed at the end), each revision in its own transaction.

    `context` is `alembic.context`, passed in so this library needs no Alembic itself.
    """
    if context.is_offline_mode():
        raise SystemExit("offline SQL generation is not supported; run against a database")
    config = context.config
    url = (context.get_x_argument(as_dictionary=True).get("url")
           or config.get_main_option("sqlalchemy.url")
           or os.environ.get("UNISON_DATABASE_URL"))
    if not url:
        raise SystemExit("set UNISON_DATABASE_URL (or pass -x url=...) to run migrations")

    def run(connection: Connection) -> None:
        context.configure(connection=connection, target_metadata=None,
                          version_table=config.get_main_option("version_table")
                          or default_version_table,
                          transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()

    async def main() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as conn:
            await conn.run_sync(run)
            await conn.commit()
        await engine.dispose()

    asyncio.run(main())
