"""Session-wide real servers and per-test helpers.

Each test gets its own household (tenant) id, so tests never see each other's rows even
though they share one migrated database: the same isolation the platform gives tenants.

Database backends: the storage fixtures (`storage_env`, `storage_settings_factory`,
`storage_app`, `client`) run on PostgreSQL unless a module or test opts in to more with
`pytestmark = pytest.mark.backends("postgres", "sqlite")`; each of its tests then runs
once per backend. SQLite is one migrated file for the session (ENVIRONMENT=dev). A test
that uses PostgreSQL itself (`postgres`, `storage_db_url`) inside an opted-in module must
say so with `@pytest.mark.backends("postgres")`; collection fails otherwise.
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


BACKENDS = ("postgres", "sqlite")
PG_ONLY_FIXTURES = ("postgres", "storage_db_url", "live_storage")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Runs a test once per backend its closest `backends` marker names."""
    if "backend" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("backends")
    if marker is None:
        return  # PostgreSQL only, under the test's usual id
    names = tuple(marker.args)
    unknown = set(names) - set(BACKENDS)
    if not names or unknown:
        raise pytest.UsageError(f"backends marker on {metafunc.definition.nodeid}: "
                                f"choose from {BACKENDS}")
    pg_only = [f for f in PG_ONLY_FIXTURES if f in metafunc.fixturenames]
    if "sqlite" in names and pg_only:
        raise pytest.UsageError(
            f"{metafunc.definition.nodeid} uses {pg_only} (PostgreSQL itself): mark it "
            "@pytest.mark.backends(\"postgres\") and give SQLite its own test")
    metafunc.parametrize("backend", names, indirect=True, scope="session")


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend of the storage fixtures: see the module docstring."""
    return str(getattr(request, "param", "postgres"))


@pytest.fixture(scope="session")
def sqlite_db_url(state_dir: Path) -> str:
    """One SQLite file for the session, migrated like `make up` would."""
    from unison_storage.cli import run_migrations

    path = state_dir / "sqlite" / "storage.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    url = f"sqlite+aiosqlite:///{path}"
    run_migrations(url)
    return url


@pytest.fixture(scope="session")
def sqlite_storage_env(sqlite_db_url: str, redis_server: RedisServer,
                       state_dir: Path) -> dict[str, str]:
    """Environment for a storage process on SQLite (ENVIRONMENT=dev, which SQLite needs)."""
    return {
        "UNISON_ENVIRONMENT": "dev",
        "UNISON_DATABASE_URL": sqlite_db_url,
        "UNISON_REDIS_URL": redis_server.url,
        "UNISON_STATE_DIR": str(state_dir / "sqlite" / "storage-state"),
        "UNISON_AUTH_HS256_SECRET": TEST_SECRET,
        "UNISON_AUTH_ACCEPT_SERVICE_TOKENS": "true",
        "UNISON_LOG_LEVEL": "WARNING",
        "STORAGE_OBJECT_FS_ROOT": str(state_dir / "sqlite" / "objects"),
    }


@pytest.fixture(scope="session")
def storage_env(backend: str, request: pytest.FixtureRequest) -> dict[str, str]:
    """Environment for a storage process (in-process app or a live uvicorn)."""
    env: dict[str, str] = request.getfixturevalue(f"{backend}_storage_env")
    return env


@pytest.fixture(scope="session")
def postgres_storage_env(storage_db_url: str, redis_server: RedisServer,
                         state_dir: Path) -> dict[str, str]:
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


async def _running_app(env: dict[str, str]) -> AsyncIterator[Any]:
    from unison_storage.main import create_app

    app = create_app(_settings(env))
    async with app.router.lifespan_context(app):
        yield app


# One app per backend for the whole session; `storage_app` hands out the test's own.
@pytest.fixture(scope="session")
async def postgres_storage_app(postgres_storage_env: dict[str, str]) -> AsyncIterator[Any]:
    async for app in _running_app(postgres_storage_env):
        yield app


@pytest.fixture(scope="session")
async def sqlite_storage_app(sqlite_storage_env: dict[str, str]) -> AsyncIterator[Any]:
    async for app in _running_app(sqlite_storage_env):
        yield app


@pytest.fixture(scope="session")
def storage_app(backend: str, request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(f"{backend}_storage_app")


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
def live_storage(postgres_storage_env: dict[str, str], state_dir: Path) -> Iterator[str]:
    """One live storage process on PostgreSQL for the session (real HTTP over loopback)."""
    from unison_devstack.procs import stop_pid

    proc, base = start_storage_process(postgres_storage_env, state_dir / "live-storage.log")
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
