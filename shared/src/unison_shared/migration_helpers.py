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

# The database roles (docs/storage.md § Security). The owner (whoever runs the
# migrations) owns the schema; the runtime role the services use owns nothing and has
# only row privileges; the system role (sweeps, reconcile, key rotation) sees every
# tenant's rows through a policy of its own. Neither can switch a protection off, and
# no setting a session can change widens what either sees.
RUNTIME_ROLE = os.environ.get("UNISON_DB_RUNTIME_ROLE", "unison_app")
SYSTEM_ROLE = os.environ.get("UNISON_DB_SYSTEM_ROLE", "unison_system")

TENANT_VISIBLE_FN = """
CREATE OR REPLACE FUNCTION app_tenant_visible(row_tenant text) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT row_tenant = current_setting('app.tenant_id', true)
$$;
"""


def sql_identifier(name: str) -> str:
    # Role names come from the deployment's settings, never from a request; refuse
    # anything that is not a plain identifier rather than quote it.
    if not name.replace("_", "").isalnum():
        raise ValueError(f"unexpected role name {name!r}")
    return name


def enable_tenant_rls(execute: Callable[[str], object], table: str) -> None:
    """Row-level security on `table`: a row is visible and writable only to a session in
    its tenant's scope (FORCE applies it to the table owner too), and to the system role
    (every row: its jobs cross tenants by design). Grants both roles row privileges on
    it (and the schema's sequences), so a table is usable the moment it is fenced."""
    execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    execute(
        f"CREATE POLICY {table}_tenant ON {table} "
        f"USING (app_tenant_visible(tenant_id)) WITH CHECK (app_tenant_visible(tenant_id))"
    )
    execute(f"CREATE POLICY {table}_system ON {table} TO {sql_identifier(SYSTEM_ROLE)} "
            "USING (true) WITH CHECK (true)")
    roles = f"{sql_identifier(RUNTIME_ROLE)}, {sql_identifier(SYSTEM_ROLE)}"
    execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {roles}")
    execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {roles}")


def require_roles(execute: Callable[[str], object]) -> None:
    """Stop a migration, saying what to do, when the deployment has not created the
    runtime and system roles (they are cluster-wide: the owner cannot create them)."""
    runtime, system = sql_identifier(RUNTIME_ROLE), sql_identifier(SYSTEM_ROLE)
    execute(f"""
    DO $$ BEGIN
      IF (SELECT count(*) FROM pg_roles WHERE rolname IN ('{runtime}', '{system}')) < 2 THEN
        RAISE EXCEPTION 'create the database roles {runtime} and {system} first '
          '(LOGIN NOSUPERUSER NOBYPASSRLS; docs/storage.md, Security)';
      END IF;
    END $$""")


def grant_runtime_privileges(execute: Callable[[str], object]) -> None:
    """Row privileges for the runtime and system roles on every table and sequence the
    owner has created and will create (default privileges); no TRUNCATE, REFERENCES or
    TRIGGER, and no ownership, so neither can ALTER or DROP anything."""
    roles = f"{sql_identifier(RUNTIME_ROLE)}, {sql_identifier(SYSTEM_ROLE)}"
    execute(f"GRANT USAGE ON SCHEMA public TO {roles}")
    execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {roles}")
    execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {roles}")
    execute("ALTER DEFAULT PRIVILEGES IN SCHEMA public "
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {roles}")
    execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES "
            f"TO {roles}")


def revoke_writes(execute: Callable[[str], object], table: str) -> None:
    """The runtime and system roles may read `table` but never write it directly (an
    append-only table written only through a SECURITY DEFINER function)."""
    execute(f"REVOKE INSERT, UPDATE, DELETE ON {table} "
            f"FROM {sql_identifier(RUNTIME_ROLE)}, {sql_identifier(SYSTEM_ROLE)}")


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
