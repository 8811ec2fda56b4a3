"""Importer fixtures: a context and a storage database of their own, and both apps
running on them (to read back what was imported through the services' APIs)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from unison_shared.testing import app_client, base_env, environ, running_app


@pytest.fixture(scope="session")
def context_env(migrated_database: Callable[[str, str], str], state_dir: Path
                ) -> dict[str, str]:
    url = migrated_database("migrate_context_test", "context")
    return {**base_env(url, None, state_dir / "migrate-context"),
            "CONTEXT_PIN_TIME_COST": "1", "CONTEXT_PIN_MEMORY_COST_KIB": "1024",
            "CONTEXT_PIN_PARALLELISM": "1"}


@pytest.fixture(scope="session")
def storage_env(migrated_database: Callable[[str, str], str], state_dir: Path
                ) -> dict[str, str]:
    url = migrated_database("migrate_storage_test", "storage")
    return {**base_env(url, None, state_dir / "migrate-storage"),
            "STORAGE_OBJECT_FS_ROOT": str(state_dir / "migrate-objects"),
            "STORAGE_SWEEP_INTERVAL_SECONDS": "86400"}


@pytest.fixture(scope="session")
async def context_app(context_env: dict[str, str]) -> AsyncIterator[Any]:
    from unison_context.main import create_app
    from unison_context.settings import ContextSettings

    with environ(context_env):
        settings = ContextSettings()
    async with running_app(create_app, settings) as app:
        yield app


@pytest.fixture(scope="session")
async def storage_app(storage_env: dict[str, str]) -> AsyncIterator[Any]:
    from unison_storage.main import create_app
    from unison_storage.settings import StorageSettings

    with environ(storage_env):
        settings = StorageSettings()
    async with running_app(create_app, settings) as app:
        yield app


@pytest.fixture
async def context_client(context_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(context_app, "http://context") as c:
        yield c


@pytest.fixture
async def storage_client(storage_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(storage_app, "http://storage") as c:
        yield c
