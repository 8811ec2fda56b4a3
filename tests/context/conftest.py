"""Context fixtures on the platform plugin: one migrated database and one running app for
the session; callers (`alice`, `bob`, `make_caller`) come from the plugin."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from unison_shared.testing import app_client, base_env, environ, running_app

CONTEXT_DB = "context_test"


@pytest.fixture(scope="session")
def context_db_url(migrated_database: Callable[[str, str], str]) -> str:
    return migrated_database(CONTEXT_DB, "context")


@pytest.fixture(scope="session")
def context_env(context_db_url: str, state_dir: Path) -> dict[str, str]:
    # Cheap argon2 parameters: the tests hash many PINs; production keeps the defaults.
    return {**base_env(context_db_url, None, state_dir / "context-state"),
            "CONTEXT_PIN_TIME_COST": "1", "CONTEXT_PIN_MEMORY_COST_KIB": "1024",
            "CONTEXT_PIN_PARALLELISM": "1", "CONTEXT_PROFILE_HISTORY_MAX": "5"}


def context_settings(env: dict[str, str], **overrides: Any) -> Any:
    from unison_context.settings import ContextSettings

    with environ(env):
        return ContextSettings(**overrides)


@pytest.fixture(scope="session")
async def context_app(context_env: dict[str, str]) -> AsyncIterator[Any]:
    from unison_context.main import create_app

    async with running_app(create_app, context_settings(context_env)) as app:
        yield app


@pytest.fixture
async def client(context_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(context_app, "http://context") as c:
        yield c


@pytest.fixture(scope="session")
def admin_dsn(postgres: Any, context_db_url: str) -> str:
    """A superuser DSN on the context test database: for scanning raw columns."""
    url: str = postgres.url(CONTEXT_DB, user="postgres", driver="postgresql")
    return url


@pytest.fixture
async def raw_db(admin_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(admin_dsn)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def live_context(context_env: dict[str, str], state_dir: Path) -> Any:
    """One live context process (uvicorn over loopback) for the session."""
    import sys

    from unison_devstack.procs import free_port, spawn, stop_pid, wait_until

    port = free_port()
    log = state_dir / "live-context.log"
    proc = spawn([sys.executable, "-m", "uvicorn", "unison_context.main:create_app",
                  "--factory", "--host", "127.0.0.1", "--port", str(port),
                  "--no-access-log"], log, env=context_env)
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"context exited early; see {log}")
        try:
            return httpx.get(f"{base}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(ready, 60, "context process")
    except BaseException:
        proc.terminate()
        raise
    yield base
    stop_pid(proc.pid)
