"""Client tests run against the real storage and context services: in-process over
httpx.ASGITransport for most, a live uvicorn process over loopback for the rest."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.context import conftest as context_fixtures
from tests.storage import conftest as storage_fixtures
from unison_client import UnisonClient
from unison_shared.testing import Caller, base_env

# The services' own app fixtures (a module-level name is what registers a fixture here),
# on databases and directories of the client tests' own: the storage and context suites
# recreate theirs when they start, and count blobs in their object directory.
storage_app = storage_fixtures.storage_app
context_app = context_fixtures.context_app


@pytest.fixture(scope="session")
def storage_db_url(migrated_database: Callable[[str, str], str]) -> str:
    return migrated_database("client_storage_test", "storage")


@pytest.fixture(scope="session")
def storage_env(storage_db_url: str, redis_server: Any, state_dir: Path) -> dict[str, str]:
    return {**base_env(storage_db_url, redis_server.url, state_dir / "client-storage-state"),
            "STORAGE_OBJECT_FS_ROOT": str(state_dir / "client-objects")}


@pytest.fixture(scope="session")
def live_storage(storage_env: dict[str, str], state_dir: Path) -> Iterator[str]:
    """A live storage process on the client tests' database (real HTTP over loopback)."""
    from unison_devstack.procs import stop_pid

    proc, base = storage_fixtures.start_storage_process(
        storage_env, state_dir / "client-live-storage.log")
    yield base
    stop_pid(proc.pid)


@pytest.fixture(scope="session")
def context_db_url(migrated_database: Callable[[str, str], str]) -> str:
    return migrated_database("client_context_test", "context")


@pytest.fixture(scope="session")
def context_env(context_db_url: str, state_dir: Path) -> dict[str, str]:
    return {**base_env(context_db_url, None, state_dir / "client-context-state"),
            "CONTEXT_PIN_TIME_COST": "1", "CONTEXT_PIN_MEMORY_COST_KIB": "1024",
            "CONTEXT_PIN_PARALLELISM": "1"}


MakeClient = Callable[..., UnisonClient]


@pytest.fixture
async def make_client(storage_app: Any) -> AsyncIterator[MakeClient]:
    """`make_client(caller, **options)`: a UnisonClient calling the in-process storage
    app with the caller's token (None: no token)."""
    made: list[UnisonClient] = []

    def make(caller: Caller | None, **options: Any) -> UnisonClient:
        options.setdefault("transport", httpx.ASGITransport(app=storage_app))
        options.setdefault("storage_url", "http://storage")
        c = UnisonClient(token=caller.token if caller else "", **options)
        made.append(c)
        return c

    yield make
    for c in made:
        await c.aclose()


@pytest.fixture
def u(make_client: MakeClient, alice: Caller) -> UnisonClient:
    """Alice's client."""
    return make_client(alice)
