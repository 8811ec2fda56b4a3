"""The intent-graph service: `create_app(settings)`; serve with `uvicorn --factory`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request

from unison_shared.app import create_service_app
from unison_shared.graph_api import router as traversal
from unison_shared.graph_api.persons.router import persons_router
from unison_shared.graph_api.persons.service import PersonGraphService
from unison_shared.graph_runtime import open_runtime

from .compat import graph as legacy_graph
from .compat import reports as legacy_reports
from .intents import router as intents
from .routing import router as routing
from .settings import IntentGraphSettings
from .wiring import build_services

SERVICE_LABEL = "unison-intent-graph"
SCOPE = "intent"


def _persons(request: Request) -> PersonGraphService:
    service: PersonGraphService = request.app.state.services.persons
    return service


def create_app(settings: IntentGraphSettings | None = None) -> FastAPI:
    settings = settings or IntentGraphSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_runtime(app, settings, scope=SCOPE,
                                migrations="intent_graph") as runtime:
            app.state.services = build_services(settings, runtime)
            yield

    app = create_service_app(settings, title="Unison intent graph",
                             service_label=SERVICE_LABEL, audience="intent-graph",
                             lifespan=lifespan)
    for module in (intents, routing, traversal, legacy_reports, legacy_graph):
        app.include_router(module.router)
    app.include_router(persons_router(_persons))
    return app
