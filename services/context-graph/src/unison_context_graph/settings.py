"""Context-graph settings: the shared ones under UNISON_, the graph under UNISON_GRAPH_."""

from __future__ import annotations

from unison_shared.graph_runtime import GraphServiceSettings


class ContextGraphSettings(GraphServiceSettings):
    service_name: str = "context-graph"
    # Context state and capability reads (`context:cache:*`).
    context_cache_ttl_seconds: int = 120
