"""Helpers the context-graph and intent-graph conftests share: settings for an app on
the session's real ArcadeDB and Redis, a running app (its lifespan entered), callers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from unison_devstack.arcadedb import ArcadeDBServer
from unison_devstack.tokens import mint_token
from unison_shared.graph import Dialect, GraphSettings
from unison_shared.settings import AuthSettings

from .graph_servers import TEST_SECRET


def graph_settings(server: ArcadeDBServer, database: str, **overrides: Any) -> GraphSettings:
    server.ensure_database(database)
    values: dict[str, Any] = {
        "uri": server.bolt_url, "user": "root", "password": SecretStr(server.password),
        "database": database, "dialect": Dialect.ARCADEDB, "pool_size": 10,
        "query_timeout_seconds": 5.0, **overrides}
    return GraphSettings(**values)


def base_settings(redis_url: str | None, storage_url: str) -> dict[str, Any]:
    return {"environment": "test", "redis_url": redis_url, "storage_url": storage_url,
            "storage_timeout_seconds": 2.0, "access_log": False, "log_level": "WARNING",
            "auth": AuthSettings(hs256_secret=SecretStr(TEST_SECRET),
                                 accept_service_tokens=True)}


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[FastAPI]:
    async with app.router.lifespan_context(app):
        yield app


@asynccontextmanager
async def client_for(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://graph.test",
                                 timeout=30) as client:
        yield client


class Caller:
    """A person of a household with a token for the service (and storage)."""

    def __init__(self, audience: str, person_id: str | None = None,
                 household_id: str | None = None, **claims: Any) -> None:
        self.person_id = person_id or f"p-{uuid.uuid4().hex[:10]}"
        self.household_id = household_id or f"h-{uuid.uuid4().hex[:10]}"
        self.token = mint_token(TEST_SECRET, person_id=self.person_id,
                                household_id=self.household_id,
                                audience=[audience, "storage"], **claims)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def settings_maker(settings_cls: type[Any], database: str,
                   fake_storage: Any) -> Any:
    """`make(graph=None, **overrides)`: a graph service's settings on the session's real
    ArcadeDB (database `database`) and Redis, calling the FAKE storage."""
    from . import graph_servers

    server = graph_servers.arcadedb()
    redis = graph_servers.redis()

    def make(graph: dict[str, Any] | None = None, **overrides: Any) -> Any:
        values = {**base_settings(redis.url, fake_storage.url),
                  "graph": graph_settings(server, database, **(graph or {})), **overrides}
        return settings_cls(**values)

    return make


@pytest.fixture(scope="session")
def fake_storage() -> Iterator[Any]:
    from . import graph_servers

    storage = graph_servers.FakeStorage()
    storage.start()
    yield storage
    storage.stop()


@pytest.fixture
def fake(fake_storage: Any) -> Iterator[Any]:
    fake_storage.fail = False
    yield fake_storage
    fake_storage.fail = False
