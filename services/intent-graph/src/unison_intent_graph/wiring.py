"""The service objects of one app, built once in the lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from unison_shared.graph_api.persons.model import PersonGraphModel
from unison_shared.graph_api.persons.service import PersonGraphService, person_graph_service
from unison_shared.graph_runtime import GraphRuntime

from .intents.repository import IntentRepository
from .intents.service import IntentService
from .reports.repository import ReportRepository
from .reports.service import ReportService
from .routing.repository import RoutingRepository
from .routing.service import RoutingService
from .settings import IntentGraphSettings


@dataclass
class Services:
    intents: IntentService
    routing: RoutingService
    reports: ReportService
    persons: PersonGraphService


def person_model(settings: IntentGraphSettings) -> PersonGraphModel:
    """The keyspaces this service caches in: traversals and lineage (graph:hot:intent),
    routing candidates (intent:cache) and reports (intent:cache:reports)."""
    return PersonGraphModel(service=settings.service_name,
                            keyspaces=("graph:hot:intent", "intent:cache",
                                       "intent:cache:reports"))


def build_services(settings: IntentGraphSettings, runtime: GraphRuntime) -> Services:
    intent_cache = runtime.cache("intent:cache", settings.intent_cache_ttl_seconds)
    hot = runtime.cache("graph:hot:intent", settings.graph.cache_ttl_seconds)
    reports_cache = runtime.cache("intent:cache:reports", settings.reports_cache_ttl_seconds)
    return Services(
        intents=IntentService(IntentRepository(runtime.graph), hot, settings.graph),
        routing=RoutingService(RoutingRepository(runtime.graph), intent_cache),
        reports=ReportService(ReportRepository(runtime.graph), runtime.storage,
                              reports_cache),
        persons=person_graph_service(runtime, person_model(settings)),
    )
