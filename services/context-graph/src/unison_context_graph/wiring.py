"""The service objects of one app, built once in the lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from unison_shared.graph_api.persons.model import PersonGraphModel
from unison_shared.graph_api.persons.service import PersonGraphService, person_graph_service
from unison_shared.graph_api.service import TraversalService
from unison_shared.graph_runtime import GraphRuntime

from .capabilities.repository import CapabilityRepository
from .capabilities.service import CapabilityService
from .context.repository import ContextRepository
from .context.service import ContextService
from .settings import ContextGraphSettings
from .telemetry.repository import TelemetryRepository
from .telemetry.service import TelemetryService
from .traces.repository import TraceRepository
from .traces.service import TraceService


@dataclass
class Services:
    context: ContextService
    traces: TraceService
    telemetry: TelemetryService
    capabilities: CapabilityService
    traversal: TraversalService
    persons: PersonGraphService


def person_model(settings: ContextGraphSettings) -> PersonGraphModel:
    """The keyspaces this service caches in (the kit's model of ownership otherwise):
    traversals under graph:hot:context, states and capabilities under context:cache."""
    return PersonGraphModel(service=settings.service_name,
                            keyspaces=("graph:hot:context", "context:cache"))


def build_services(settings: ContextGraphSettings, runtime: GraphRuntime) -> Services:
    state_cache = runtime.cache("context:cache", settings.context_cache_ttl_seconds)
    context = ContextService(ContextRepository(runtime.graph), runtime.storage, state_cache)
    return Services(
        context=context,
        traces=TraceService(TraceRepository(runtime.graph), runtime.storage, context,
                            state_cache),
        telemetry=TelemetryService(TelemetryRepository(runtime.graph), runtime.storage,
                                   state_cache),
        capabilities=CapabilityService(CapabilityRepository(runtime.graph), runtime.storage,
                                       state_cache),
        traversal=runtime.traversal,
        persons=person_graph_service(runtime, person_model(settings)),
    )
