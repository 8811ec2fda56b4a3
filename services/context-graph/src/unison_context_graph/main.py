"""The context-graph service: `create_app(settings)`; serve with `uvicorn --factory`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request

from unison_shared.app import create_service_app
from unison_shared.graph_api import router as traversal
from unison_shared.graph_api.persons.router import persons_router
from unison_shared.graph_api.persons.service import PersonGraphService
from unison_shared.graph_runtime import open_runtime

from .compat import capabilities as legacy_capabilities
from .compat import context as legacy_context
from .compat import graph as legacy_graph
from .compat import telemetry as legacy_telemetry
from .compat import traces as legacy_traces
from .settings import ContextGraphSettings
from .wiring import build_services

SERVICE_LABEL = "unison-context-graph"
SCOPE = "context"


def _persons(request: Request) -> PersonGraphService:
    service: PersonGraphService = request.app.state.services.persons
    return service


def create_app(settings: ContextGraphSettings | None = None) -> FastAPI:
    settings = settings or ContextGraphSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_runtime(app, settings, scope=SCOPE,
                                migrations="context_graph") as runtime:
            app.state.services = build_services(settings, runtime)
            yield

    app = create_service_app(settings, title="Unison context graph",
                             service_label=SERVICE_LABEL, audience="context-graph",
                             lifespan=lifespan)
    app.include_router(traversal.router)
    app.include_router(persons_router(_persons))
    for legacy in (legacy_context, legacy_traces, legacy_telemetry, legacy_capabilities,
                   legacy_graph):
        app.include_router(legacy.router)
    return app
