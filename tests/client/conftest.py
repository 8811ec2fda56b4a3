"""Client tests run against the real storage service: in-process over
httpx.ASGITransport for most, a live uvicorn process over loopback for the rest."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from tests.context import conftest as context_fixtures
from tests.storage import conftest as storage_fixtures
from unison_client import UnisonClient
from unison_shared.testing import Caller

# storage's own fixtures (a module-level name is what registers a fixture here).
storage_db_url = storage_fixtures.storage_db_url
storage_env = storage_fixtures.storage_env
storage_app = storage_fixtures.storage_app
live_storage = storage_fixtures.live_storage
context_db_url = context_fixtures.context_db_url
context_env = context_fixtures.context_env
context_app = context_fixtures.context_app

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
