"""What a graph service holds for its lifetime: one Bolt driver, one Redis client, the
cache generations, the storage client; opened in the app's lifespan, with readiness.

Graph down: queries answer 503 with Retry-After and readiness is false; the driver
reconnects by itself when the server is back (no restart). Redis down: reads come from
the graph, readiness reports it without failing.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI, Request
from pydantic import Field, SecretStr
from redis.asyncio import Redis

from .app import add_readiness_check
from .auth import RequestContext
from .cache import create_redis
from .graph import Graph, GraphSettings, create_driver
from .graph_api.repository import TraversalRepository
from .graph_api.service import TraversalService
from .graph_cache import CacheStats, Generations, GraphCache
from .graph_migrations import migrate, migrations_root
from .settings import ServiceSettings
from .storage_client import CallerIdentity, StorageClient

logger = logging.getLogger("unison.graph.runtime")


class GraphServiceSettings(ServiceSettings):
    graph: GraphSettings = Field(default_factory=GraphSettings)
    # Apply pending Cypher migrations when the service starts (the CLI does it too).
    graph_migrate_on_start: bool = True
    # The storage service that keeps content the graph only references.
    storage_url: str = "http://127.0.0.1:8082"
    storage_timeout_seconds: float = 5.0
    # Signs workload tokens for storage when the caller's token is not for storage.
    storage_workload_secret: SecretStr | None = None


@dataclass
class GraphRuntime:
    graph: Graph
    redis: Redis | None
    generations: Generations | None
    stats: CacheStats
    storage: StorageClient
    traversal: TraversalService

    def cache(self, keyspace: str, ttl_seconds: int) -> GraphCache:
        return GraphCache(self.redis, keyspace, ttl_seconds, self.stats, self.generations)


@asynccontextmanager
async def open_runtime(app: FastAPI, settings: GraphServiceSettings, *, scope: str,
                       migrations: str) -> AsyncIterator[GraphRuntime]:
    """Open the driver, Redis and the storage client; register readiness; close all.

    `scope` names the service's keyspaces (`graph:hot:<scope>`) and its migrations'
    record; `migrations` is its folder under migrations/."""
    driver = create_driver(settings.graph)
    graph = Graph(driver, settings.graph, app.state.metrics)
    redis = create_redis(settings.redis_url) if settings.redis_url else None
    generations = Generations(redis, f"graph:hot:{scope}") if redis is not None else None
    stats = CacheStats(app.state.metrics)
    secret = settings.storage_workload_secret
    storage = StorageClient(settings.storage_url, timeout=settings.storage_timeout_seconds,
                            workload_secret=secret.get_secret_value() if secret else None,
                            service_name=settings.service_name)
    hot = GraphCache(redis, f"graph:hot:{scope}", settings.graph.cache_ttl_seconds, stats,
                     generations)
    runtime = GraphRuntime(graph, redis, generations, stats, storage,
                           TraversalService(TraversalRepository(graph), hot, settings.graph))
    app.state.traversal = runtime.traversal
    add_readiness_check(app, "graph", graph.ready)
    if redis is not None:
        client = redis

        async def redis_ready() -> None:
            await client.ping()

        add_readiness_check(app, "redis", redis_ready, critical=False)
    if settings.graph_migrate_on_start:
        try:
            await migrate(graph, migrations_root() / migrations, scope)
        except Exception as exc:  # the graph may be down at start: serve 503s, retry later
            logger.warning("graph migrations not applied at start: %s", type(exc).__name__)
    try:
        yield runtime
    finally:
        await storage.aclose()
        if redis is not None:
            await redis.aclose()
        await driver.close()


def caller(request: Request, ctx: RequestContext) -> CallerIdentity:
    """The identity a service-to-service call acts as: the caller's own token."""
    header = request.headers.get("authorization", "")
    aud = ctx.principal.claims.get("aud", ())
    audiences = (aud,) if isinstance(aud, str) else tuple(str(a) for a in aud or ())
    return CallerIdentity(token=header.partition(" ")[2].strip(), tenant=ctx.tenant_id,
                          audiences=audiences,
                          request_id=getattr(request.state, "request_id", None)
                          or request.headers.get("x-request-id"),
                          traceparent=getattr(request.state, "traceparent", None)
                          or request.headers.get("traceparent"),
                          person_id=ctx.person_id)


async def run_migrations(settings: GraphServiceSettings, folder: str, scope: str) -> list[str]:
    """Apply a service's pending Cypher migrations (the CLI's `migrate`)."""
    driver = create_driver(settings.graph)
    try:
        return await migrate(Graph(driver, settings.graph), migrations_root() / folder, scope)
    finally:
        await driver.close()
