"""Alembic environment for the storage database on SQLite (development only): the same
environment as PostgreSQL's, on the engine the service uses (see `run_async_env`)."""

from __future__ import annotations

from alembic import context

from unison_shared.migration_helpers import run_async_env

run_async_env(context, "sqlite")
