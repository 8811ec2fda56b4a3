"""Storage fixtures on the platform plugin: one migrated database and one running app
for the session, a live uvicorn process when a test needs real HTTP."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from unison_shared.testing import (
    app_client,
    base_env,
    environ,
    fresh_database,
    role_url,
    running_app,
)

STORAGE_DB = "storage_test"


def fresh_storage_database(postgres: Any, name: str) -> str:
    """A database of its own, migrated: for tests whose work crosses tenants. Its owner's
    URL: give a service `db_settings(url)`."""
    return fresh_database(postgres, name, "storage")


def db_settings(owner_url: str) -> dict[str, str]:
    """Settings overrides for a service on the database `owner_url` names: requests as
    the runtime role, system jobs as the system role."""
    from unison_devstack.postgres import RUNTIME_ROLE, SYSTEM_ROLE

    return {"database_url": role_url(owner_url, RUNTIME_ROLE),
            "database_system_url": role_url(owner_url, SYSTEM_ROLE)}


@pytest.fixture(scope="session")
def storage_db_url(migrated_database: Callable[[str, str], str]) -> str:
    return migrated_database(STORAGE_DB, "storage")


@pytest.fixture(scope="session")
def storage_env(storage_db_url: str, redis_server: Any, state_dir: Path) -> dict[str, str]:
    """Environment for a storage process (in-process app or a live uvicorn)."""
    return {**base_env(storage_db_url, redis_server.url, state_dir / "storage-state"),
            "STORAGE_OBJECT_FS_ROOT": str(state_dir / "objects")}


def storage_settings(env: dict[str, str], **overrides: Any) -> Any:
    from unison_storage.settings import StorageSettings

    with environ(env):
        return StorageSettings(**overrides)


@pytest.fixture(scope="session")
def storage_settings_factory(storage_env: dict[str, str]) -> Callable[..., Any]:
    return lambda **overrides: storage_settings(storage_env, **overrides)


@pytest.fixture(scope="session")
async def storage_app(storage_env: dict[str, str]) -> AsyncIterator[Any]:
    from unison_storage.main import create_app

    async with running_app(create_app, storage_settings(storage_env)) as app:
        yield app


@asynccontextmanager
async def running_client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client over an app, running the app's lifespan for the block."""
    async with app.router.lifespan_context(app), app_client(app, "http://storage") as c:
        yield c


@pytest.fixture
async def client(storage_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(storage_app, "http://storage") as c:
        yield c


def start_storage_process(env: dict[str, str], log_path: Path,
                          port: int | None = None) -> tuple[Any, str]:
    """A real storage process (uvicorn) on a free port; returns (Popen, base URL)."""
    from unison_devstack.procs import free_port, spawn, wait_until

    port = port or free_port()
    # Live processes do not sweep: the sweeper tests count exactly what their own
    # in-process sweeps delete, and a second sweeper would race them.
    env = {"STORAGE_SWEEP_INTERVAL_SECONDS": "86400", **env}
    proc = spawn([sys.executable, "-m", "uvicorn", "unison_storage.main:create_app",
                  "--factory", "--host", "127.0.0.1", "--port", str(port),
                  "--no-access-log"], log_path, env=env)
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"storage exited early; see {log_path}")
        try:
            return httpx.get(f"{base}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(ready, 60, "storage process")
    except BaseException:
        proc.terminate()
        raise
    assert isinstance(proc, subprocess.Popen)
    return proc, base


@pytest.fixture(scope="session")
def live_storage(storage_env: dict[str, str], state_dir: Path) -> Iterator[str]:
    """One live storage process for the session (real HTTP over loopback)."""
    from unison_devstack.procs import stop_pid

    proc, base = start_storage_process(storage_env, state_dir / "live-storage.log")
    yield base
    stop_pid(proc.pid)


@pytest.fixture(scope="session")
def s3_env(seaweed: Any) -> dict[str, str]:
    from unison_devstack.seaweedfs import ACCESS_KEY, SECRET_KEY

    return {
        "STORAGE_OBJECT_BACKEND": "s3",
        "STORAGE_S3_ENDPOINT_URL": seaweed.endpoint,
        "STORAGE_S3_ACCESS_KEY_ID": ACCESS_KEY,
        "STORAGE_S3_SECRET_ACCESS_KEY": SECRET_KEY,
        "STORAGE_S3_BUCKET": f"unison-test-{uuid.uuid4().hex[:8]}",
    }
