"""Alembic environment for the storage database on SQLite (development only).

The same async shape as the PostgreSQL environment, on the engine the service uses
(foreign keys on, WAL), with a plain BEGIN so the whole upgrade, version table included,
commits as one transaction or not at all.
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection

from unison_shared.db import create_sqlite_engine

config = context.config


def _url() -> str:
    url = (context.get_x_argument(as_dictionary=True).get("url")
           or config.get_main_option("sqlalchemy.url")
           or os.environ.get("UNISON_DATABASE_URL"))
    if not url:
        raise SystemExit("set UNISON_DATABASE_URL (or pass -x url=...) to run migrations")
    return url


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=None,
                      version_table=config.get_main_option("version_table")
                      or "alembic_version_storage",
                      transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()


async def _main() -> None:
    engine = create_sqlite_engine(_url(), begin="BEGIN")
    async with engine.connect() as conn:
        await conn.run_sync(_run)
        await conn.commit()
    await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline SQL generation is not supported; run against a database")
asyncio.run(_main())
