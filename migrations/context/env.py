"""Alembic environment for the context database (async engine, asyncpg)."""

from __future__ import annotations

from alembic import context

from unison_shared.migration_helpers import run_async_env

run_async_env(context, "alembic_version_context")
