"""intent-graph fixtures: one app on the session's real ArcadeDB and Redis, a FAKE
storage service (tests/graph_servers.py says why), a fresh household per caller."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from unison_intent_graph.main import create_app
from unison_intent_graph.settings import IntentGraphSettings

from .. import graph_servers
from ..graph_fixtures import Caller, client_for, running, settings_maker

DATABASE = "intent_test"


@pytest.fixture(scope="session")
def ig_settings_factory(fake_storage: graph_servers.FakeStorage
                        ) -> Callable[..., IntentGraphSettings]:
    make: Callable[..., IntentGraphSettings] = settings_maker(IntentGraphSettings, DATABASE,
                                                             fake_storage)
    return make


@pytest.fixture(scope="session")
async def ig_app(ig_settings_factory: Callable[..., IntentGraphSettings]
                 ) -> AsyncIterator[FastAPI]:
    async with running(create_app(ig_settings_factory())) as app:
        yield app


@pytest.fixture
async def client(ig_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(ig_app) as c:
        yield c


@pytest.fixture
def make_caller() -> Callable[..., Caller]:
    def make(person_id: str | None = None, household_id: str | None = None,
             **claims: Any) -> Caller:
        return Caller("intent-graph", person_id, household_id, **claims)

    return make


@pytest.fixture
def alice(make_caller: Callable[..., Caller]) -> Caller:
    return make_caller()
