"""Session-wide real servers and per-test helpers.

Each test gets its own household (tenant) id, so tests never see each other's rows even
though they share one migrated database: the same isolation the platform gives tenants.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from unison_devstack.postgres import PostgresServer
from unison_devstack.procs import free_port
from unison_devstack.redis import RedisServer
from unison_devstack.seaweedfs import ACCESS_KEY, SECRET_KEY, SeaweedServer
from unison_devstack.tokens import mint_token

from .servers import make_postgres, make_redis

TEST_SECRET = "test-hs256-secret-that-is-long-enough-for-hmac"
STORAGE_DB = "storage_test"


@pytest.fixture(scope="session")
def state_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="unison-tests-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres(state_dir: Path) -> Iterator[PostgresServer]:
    server = make_postgres(state_dir)
    print(f"\nPostgreSQL for this session: {type(server).__name__}")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server(state_dir: Path) -> Iterator[RedisServer]:
    server = make_redis(state_dir)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def seaweed(state_dir: Path) -> Iterator[SeaweedServer]:
    server = SeaweedServer(state_dir / "seaweed", free_port())
    server.start()
    yield server
    server.stop()


def fresh_database(postgres: PostgresServer, name: str) -> str:
    """Drop and recreate a database, run the storage migrations; returns its URL. For
    tests whose work crosses tenants (rewrap, reconcile) and so needs a database alone."""
    from unison_storage.cli import run_migrations

    postgres.drop_database(name)
    postgres.ensure_database(name)
    url = postgres.url(name)
    run_migrations(url)
    return url


@pytest.fixture(scope="session")
def storage_db_url(postgres: PostgresServer) -> str:
    return fresh_database(postgres, STORAGE_DB)


@pytest.fixture(scope="session")
def storage_env(storage_db_url: str, redis_server: RedisServer, state_dir: Path) -> dict[str, str]:
    """Environment for a storage process (in-process app or a live uvicorn)."""
    return {
        "UNISON_ENVIRONMENT": "test",
        "UNISON_DATABASE_URL": storage_db_url,
        "UNISON_REDIS_URL": redis_server.url,
        "UNISON_STATE_DIR": str(state_dir / "storage-state"),
        "UNISON_AUTH_HS256_SECRET": TEST_SECRET,
        "UNISON_AUTH_ACCEPT_SERVICE_TOKENS": "true",
        "UNISON_LOG_LEVEL": "WARNING",
        "STORAGE_OBJECT_FS_ROOT": str(state_dir / "objects"),
    }


@contextmanager
def environ(env: dict[str, str]) -> Iterator[None]:
    """`env` in os.environ for the block only (settings read the environment)."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _settings(env: dict[str, str], **overrides: Any) -> Any:
    from unison_storage.settings import StorageSettings

    with environ(env):
        return StorageSettings(**overrides)


@pytest.fixture(scope="session")
def storage_settings_factory(storage_env: dict[str, str]) -> Callable[..., Any]:
    return lambda **overrides: _settings(storage_env, **overrides)


@pytest.fixture(scope="session")
async def storage_app(storage_settings_factory: Callable[..., Any]) -> AsyncIterator[Any]:
    from unison_storage.main import create_app

    app = create_app(storage_settings_factory())
    async with app.router.lifespan_context(app):
        yield app


@asynccontextmanager
async def running_client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client over an app whose lifespan (engine, store, sweeper) is running."""
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=transport, base_url="http://storage") as c:
        yield c


@pytest.fixture
async def client(storage_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=storage_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://storage") as c:
        yield c


class Caller:
    """A person in a household, with a token and header helpers."""

    def __init__(self, person_id: str, household_id: str, **claims: Any) -> None:
        self.person_id = person_id
        self.household_id = household_id
        self.token = mint_token(TEST_SECRET, person_id=person_id, household_id=household_id,
                                **claims)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def make_caller() -> Callable[..., Caller]:
    def make(person_id: str | None = None, household_id: str | None = None,
             **claims: Any) -> Caller:
        return Caller(person_id or f"p-{uuid.uuid4().hex[:10]}",
                      household_id or f"h-{uuid.uuid4().hex[:10]}", **claims)
    return make


@pytest.fixture
def alice(make_caller: Callable[..., Caller]) -> Caller:
    return make_caller()


@pytest.fixture
def bob(make_caller: Callable[..., Caller]) -> Caller:
    """A person in another household."""
    return make_caller()


def start_storage_process(env: dict[str, str], log_path: Path,
                          port: int | None = None) -> tuple[Any, str]:
    """A real storage process (uvicorn) on a free port; returns (Popen, base URL)."""
    import subprocess
    import sys

    from unison_devstack.procs import spawn, wait_until

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
def s3_env(seaweed: SeaweedServer) -> dict[str, str]:
    return {
        "STORAGE_OBJECT_BACKEND": "s3",
        "STORAGE_S3_ENDPOINT_URL": seaweed.endpoint,
        "STORAGE_S3_ACCESS_KEY_ID": ACCESS_KEY,
        "STORAGE_S3_SECRET_ACCESS_KEY": SECRET_KEY,
        "STORAGE_S3_BUCKET": f"unison-test-{uuid.uuid4().hex[:8]}",
    }
