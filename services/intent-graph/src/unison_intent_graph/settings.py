"""Intent-graph settings: the shared ones under UNISON_, the graph under UNISON_GRAPH_."""

from __future__ import annotations

from unison_shared.graph_runtime import GraphServiceSettings


class IntentGraphSettings(GraphServiceSettings):
    service_name: str = "intent-graph"
    # Routing candidates (`intent:cache:*`): short, and dropped by any write of the tenant.
    intent_cache_ttl_seconds: int = 15
    reports_cache_ttl_seconds: int = 60
