"""The platform's pytest plugin: real servers once per test session, and per-test callers.

Load it with `pytest_plugins = ["unison_shared.testing"]` in the root conftest. It gives:

- session servers, each started on first use on a free port in a temporary directory and
  stopped at the end: `postgres`, `redis_server`, `seaweed` (S3);
- `migrated_database(name, section)`: a fresh database migrated with that alembic.ini
  section, returning its URL (a service's conftest makes its session fixture from it);
- `running_app(create_app, settings)` and `app_client(app)`: an app with its lifespan
  running, and an httpx client over it (no sockets);
- `Caller`, `make_caller`, `alice`, `bob`: a person in a fresh household with a token
  valid for every service (each test gets its own tenant, so tests never see each
  other's rows although they share one database);
- `environ(env)` for code that reads settings from the environment.

A service's `tests/<service>/conftest.py` is then a few lines (docs/development.md).
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

TEST_SECRET = "test-hs256-secret-that-is-long-enough-for-hmac"
# Test tokens name every service, so one caller can call each of them.
AUDIENCES = ["storage", "context", "context-graph", "intent-graph"]


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


def role_url(url: str, role: str) -> str:
    """`url` (a database's owner URL, as `migrated_database` returns) for another role:
    the runtime role (`unison_app`) or the system role (`unison_system`)."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(username=role).render_as_string(hide_password=False)


def base_env(database_url: str, redis_url: str | None, state_dir: Path) -> dict[str, str]:
    """The settings every service under test shares (UNISON_* variables), for the
    database whose owner URL is `database_url`: requests run as the runtime role,
    system jobs as the system role, as in production."""
    from unison_devstack.postgres import RUNTIME_ROLE, SYSTEM_ROLE

    env = {
        "UNISON_ENVIRONMENT": "test",
        "UNISON_DATABASE_URL": role_url(database_url, RUNTIME_ROLE),
        "UNISON_DATABASE_SYSTEM_URL": role_url(database_url, SYSTEM_ROLE),
        "UNISON_STATE_DIR": str(state_dir),
        "UNISON_AUTH_HS256_SECRET": TEST_SECRET,
        "UNISON_AUTH_ACCEPT_SERVICE_TOKENS": "true",
        "UNISON_LOG_LEVEL": "WARNING",
    }
    if redis_url:
        env["UNISON_REDIS_URL"] = redis_url
    return env


@asynccontextmanager
async def running_app(create_app: Callable[[Any], Any], settings: Any) -> AsyncIterator[Any]:
    """The app `create_app(settings)` builds, with its lifespan running."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@asynccontextmanager
async def app_client(app: Any, base_url: str = "http://testserver"
                     ) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client calling the app in-process (its lifespan must be running)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
        yield client


class Caller:
    """A person in a household, with a token and header helpers."""

    def __init__(self, person_id: str, household_id: str, **claims: Any) -> None:
        from unison_devstack.tokens import mint_token

        self.person_id = person_id
        self.household_id = household_id
        claims.setdefault("audience", AUDIENCES)
        self.token = mint_token(TEST_SECRET, person_id=person_id, household_id=household_id,
                                **claims)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def operator_headers(household_id: str, sub: str = "service-operator") -> dict[str, str]:
    """Headers of an operator's service token for one household (the person erasure and
    export routes): scopes persons:act and persons:admin, every audience."""
    from unison_devstack.tokens import mint_token

    token = mint_token(TEST_SECRET, person_id=None, household_id=household_id, sub=sub,
                       type="service", roles=["service"], audience=AUDIENCES,
                       scopes=["persons:act", "persons:admin"])
    return {"Authorization": f"Bearer {token}"}


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


@pytest.fixture(scope="session")
def state_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="unison-tests-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres(state_dir: Path) -> Iterator[Any]:
    from .servers import make_postgres

    server = make_postgres(state_dir)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server(state_dir: Path) -> Iterator[Any]:
    from .servers import make_redis

    server = make_redis(state_dir)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def seaweed(state_dir: Path) -> Iterator[Any]:
    from unison_devstack.procs import free_port
    from unison_devstack.seaweedfs import SeaweedServer

    server = SeaweedServer(state_dir / "seaweed", free_port())
    server.start()
    yield server
    server.stop()


def fresh_database(postgres: Any, name: str, section: str) -> str:
    """Drop and recreate a database and migrate it (alembic.ini `section`); its URL."""
    from unison_shared.migration_helpers import alembic_upgrade

    postgres.drop_database(name)
    postgres.ensure_database(name)
    url: str = postgres.url(name)
    alembic_upgrade(section, url)
    return url


@pytest.fixture(scope="session")
def migrated_database(postgres: Any) -> Callable[[str, str], str]:
    """`migrated_database(name, section)`: a fresh, migrated database's URL."""
    return lambda name, section: fresh_database(postgres, name, section)
