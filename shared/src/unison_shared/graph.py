"""The graph kit: one Bolt driver per process, bounded queries, tenant-checked Cypher.

Only the graph services import this module (and so the `neo4j` driver). Every query
goes through `Graph.run`, which refuses Cypher that does not filter on `$tenant`,
bounds each query in time (the server-side transaction timeout and a client-side
budget, so a worker never hangs), records Bolt latency per query name, and turns an
unreachable or overloaded graph into a 503 with Retry-After. The same code runs on
Neo4j 5 and on ArcadeDB's Bolt endpoint; `dialect` names the server for the few places
where they differ (docs/context-graph.md § Cypher dialect).

On /metrics: `graph_query_duration_seconds{query}`, `graph_query_errors_total{query,
kind}`, and the driver's pool as far as the kit can see it (the neo4j driver has no
public pool statistics): `graph_queries_in_flight` (queries holding a pooled connection
or waiting for one) and `graph_pool_max_connections` (docs/observability.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, LiteralString

from neo4j import AsyncDriver, AsyncGraphDatabase, Query, RoutingControl
from neo4j.exceptions import (
    ClientError,
    ConstraintError,
    DriverError,
    Neo4jError,
    ServiceUnavailable,
    SessionExpired,
    TransientError,
)
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import Conflict, DependencyUnavailable
from .observability import Metrics

logger = logging.getLogger("unison.graph")

RETRY_AFTER_SECONDS = 2
CONSTRAINT_RETRIES = 3
BOLT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class Dialect(StrEnum):
    NEO4J = "neo4j"
    ARCADEDB = "arcadedb"


class GraphSettings(BaseSettings):
    """Where the graph is and how hard a request may lean on it (env UNISON_GRAPH_*)."""

    model_config = SettingsConfigDict(env_prefix="UNISON_GRAPH_", extra="ignore")

    uri: str = "bolt://127.0.0.1:7687"
    user: str = "neo4j"
    password: SecretStr = SecretStr("")
    database: str = "neo4j"
    dialect: Dialect = Dialect.NEO4J
    pool_size: int = 20
    connect_timeout_seconds: float = 3.0
    acquire_timeout_seconds: float = 3.0
    # Every query: the server aborts it past this; the client gives up a little later.
    query_timeout_seconds: float = 5.0
    # Traversal bounds: a request beyond them is refused with 422 naming the limit.
    max_depth: int = 4
    max_limit: int = 500
    max_subgraph_nodes: int = 200
    max_batch: int = 500
    cache_ttl_seconds: int = 60


class UnscopedQuery(RuntimeError):
    """A query that would run without a tenant filter: a programming error."""


class GraphUnavailable(DependencyUnavailable):
    code, title = "graph-unavailable", "The graph database is unavailable"

    def __init__(self, detail: str = "the graph database is unreachable; retry later") -> None:
        super().__init__(detail, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


class GraphTimeout(DependencyUnavailable):
    code, title = "graph-query-timeout", "The graph query ran out of time"

    def __init__(self, name: str, budget: float) -> None:
        super().__init__(f"query {name} exceeded its time budget of {budget:g}s; "
                         "narrow it (depth, limit) or retry later",
                         headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


@dataclass(frozen=True)
class Rows:
    records: list[dict[str, Any]]

    def first(self) -> dict[str, Any] | None:
        return self.records[0] if self.records else None


def create_driver(settings: GraphSettings) -> AsyncDriver:
    """The process's one driver: a bounded pool, short connect and acquire timeouts."""
    return AsyncGraphDatabase.driver(
        settings.uri, auth=(settings.user, settings.password.get_secret_value()),
        max_connection_pool_size=settings.pool_size,
        connection_timeout=settings.connect_timeout_seconds,
        connection_acquisition_timeout=settings.acquire_timeout_seconds,
        max_transaction_retry_time=settings.query_timeout_seconds,
        liveness_check_timeout=30.0,
    )


def _is_timeout(exc: Neo4jError) -> bool:
    code = exc.code or ""
    return "TransactionTimedOut" in code or "Timeout" in code


class Graph:
    """Runs tenant-scoped Cypher on the driver; the repositories' only way in."""

    def __init__(self, driver: AsyncDriver, settings: GraphSettings,
                 metrics: Metrics | None = None) -> None:
        self.driver = driver
        self.settings = settings
        self.latency: Histogram | None = None
        self.errors: Counter | None = None
        self.in_flight = 0  # queries running or waiting for a connection (read at scrape)
        if metrics is not None:
            self.latency = Histogram("graph_query_duration_seconds",
                                     "Bolt query latency by query name", ["query"],
                                     buckets=BOLT_BUCKETS, registry=metrics.registry)
            self.errors = metrics.counter(
                "graph_query_errors_total", "Bolt queries that failed, by query name and "
                "kind (timeout, unavailable, busy, conflict, client, database, driver)",
                ["query", "kind"])
            metrics.registry.register(_PoolCollector(self))

    def _failed(self, name: str, kind: str) -> None:
        if self.errors is not None:
            self.errors.labels(name, kind).inc()

    @property
    def dialect(self) -> Dialect:
        return self.settings.dialect

    async def run(self, name: str, cypher: LiteralString, params: Mapping[str, Any],
                  *, write: bool = False, budget: float | None = None) -> Rows:
        """One auto-retried managed transaction. `params` must carry `tenant`, and the
        Cypher must use it."""
        if "$tenant" not in cypher or not params.get("tenant"):
            raise UnscopedQuery(f"query {name} does not filter on $tenant")
        for attempt in range(CONSTRAINT_RETRIES):
            try:
                return await self._execute(name, cypher, params, write=write, budget=budget)
            except Conflict:
                # Concurrent MERGEs of one key: one creates it, the others fail on the
                # uniqueness constraint; run again, they match it. (Every write here is
                # a MERGE, safe to repeat.)
                if not write or attempt == CONSTRAINT_RETRIES - 1:
                    raise
                await asyncio.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    async def run_unscoped(self, name: str, cypher: LiteralString,
                           params: Mapping[str, Any] | None = None, *,
                           write: bool = True) -> Rows:
        """Schema statements and bookkeeping that belong to no tenant (migrations): these
        may build indexes, so they get a generous budget."""
        return await self._execute(name, cypher, params or {}, write=write,
                                   budget=max(60.0, self.settings.query_timeout_seconds))

    async def _execute(self, name: str, cypher: LiteralString, params: Mapping[str, Any],
                       *, write: bool, budget: float | None) -> Rows:
        budget = budget or self.settings.query_timeout_seconds
        query = Query(cypher, timeout=budget)
        started = time.perf_counter()
        self.in_flight += 1
        try:
            result = await asyncio.wait_for(self.driver.execute_query(
                query, dict(params), database_=self.settings.database,
                routing_=RoutingControl.WRITE if write else RoutingControl.READ,
            ), budget + min(0.5, budget))
        except TimeoutError:
            self._failed(name, "timeout")
            logger.warning("graph query %s exceeded %.2fs", name, budget)
            raise GraphTimeout(name, budget) from None
        except ConstraintError as exc:
            self._failed(name, "conflict")
            raise Conflict(f"{name}: the write conflicts with an existing node or "
                           "relationship (an id already used with another label?)") from exc
        except (ServiceUnavailable, SessionExpired, OSError) as exc:
            self._failed(name, "unavailable")
            logger.warning("graph unavailable on %s: %s", name, type(exc).__name__)
            raise GraphUnavailable() from exc
        except TransientError as exc:
            if _is_timeout(exc):
                self._failed(name, "timeout")
                raise GraphTimeout(name, budget) from exc
            self._failed(name, "busy")
            raise GraphUnavailable("the graph database is busy; retry later") from exc
        except ClientError as exc:
            if _is_timeout(exc):
                self._failed(name, "timeout")
                raise GraphTimeout(name, budget) from exc
            self._failed(name, "client")
            raise
        except Neo4jError:
            self._failed(name, "database")
            raise
        except DriverError as exc:
            self._failed(name, "driver")
            logger.warning("graph driver error on %s: %s", name, type(exc).__name__)
            raise GraphUnavailable() from exc
        finally:
            self.in_flight -= 1
            if self.latency is not None:
                self.latency.labels(name).observe(time.perf_counter() - started)
        return Rows([record.data() for record in result.records])

    async def ready(self) -> None:
        """Readiness: a round trip to the configured database."""
        await self._execute("ready", "RETURN 1 AS ok", {}, write=False,
                            budget=min(2.0, self.settings.query_timeout_seconds))


class _PoolCollector:
    """The Bolt pool's figures the kit knows, read at scrape time."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph

    def describe(self) -> Iterator[Metric]:
        return self.collect(empty=True)

    def collect(self, empty: bool = False) -> Iterator[Metric]:
        in_flight = GaugeMetricFamily(
            "graph_queries_in_flight", "Bolt queries running or waiting for a pooled "
            "connection")
        most = GaugeMetricFamily("graph_pool_max_connections",
                                 "The most Bolt connections the driver opens")
        if not empty:
            in_flight.add_metric([], self.graph.in_flight)
            most.add_metric([], self.graph.settings.pool_size)
        return iter([in_flight, most])
