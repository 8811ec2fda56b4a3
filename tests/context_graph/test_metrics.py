"""context-graph's /metrics on the real ArcadeDB and Redis: Bolt latency, errors by kind
and the pool figures, cache hits and misses per keyspace, and storage calls (to the FAKE
storage) carrying the request id and trace of the request that made them."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from neo4j.exceptions import ClientError
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from unison_devstack.procs import free_port
from unison_shared.graph import Graph, GraphTimeout, create_driver
from unison_shared.observability import Metrics

from ..graph_fixtures import Caller

KEYSPACE = "graph:hot:context"


def value(text: str, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return None


async def scrape(client: httpx.AsyncClient) -> str:
    r = await client.get("/metrics")
    assert r.status_code == 200
    return r.text


def graph_of(app: FastAPI) -> Graph:
    graph: Graph = app.state.traversal.repo.graph
    return graph


async def test_bolt_latency_errors_and_pool_figures(cg_app: FastAPI,
                                                    client: httpx.AsyncClient,
                                                    alice: Caller) -> None:
    h = alice.headers
    assert (await client.put("/v1/nodes/m1", json={"id": "m1", "labels": ["Device"]},
                             headers=h)).status_code in (200, 201)
    assert (await client.get("/v1/nodes/m1", headers=h)).status_code == 200
    text = await scrape(client)
    assert (value(text, "graph_query_duration_seconds_count", query="nodes.upsert") or 0) >= 1
    assert value(text, "graph_pool_max_connections") == \
        cg_app.state.settings.graph.pool_size
    assert value(text, "graph_queries_in_flight") == 0

    graph = graph_of(cg_app)
    # A query the server refuses: counted as a client error under its name.
    with pytest.raises(ClientError):
        await graph.run("metrics.bad", "MATCH (n {tenant: $tenant}) RETURN no_such_fn(n)",
                        {"tenant": alice.household_id})
    text = await scrape(client)
    errors = {s.labels["kind"]: s.value
              for f in text_string_to_metric_families(text) for s in f.samples
              if s.name == "graph_query_errors_total" and s.labels["query"] == "metrics.bad"}
    assert errors == {"client": 1}
    assert (value(text, "graph_query_duration_seconds_count", query="metrics.bad")) == 1

    # A query under way is in flight until it returns.
    task = asyncio.create_task(graph.run("metrics.slow", "MATCH (n {tenant: $tenant}) "
                                         "RETURN count(n) AS c", {"tenant": "t-none"}))
    await asyncio.sleep(0)
    during = await scrape(client)
    await task
    assert value(during, "graph_queries_in_flight") == 1
    assert value(await scrape(client), "graph_queries_in_flight") == 0


async def test_an_unreachable_graph_is_counted(cg_app: FastAPI) -> None:
    """Nothing listens: the driver retries the connection until the query's budget is
    spent, so the failure is counted as a timeout of that query."""
    metrics = Metrics("unison-test")
    settings = cg_app.state.settings.graph.model_copy(update={
        "uri": f"bolt://127.0.0.1:{free_port()}", "connect_timeout_seconds": 1.0,
        "acquire_timeout_seconds": 1.0, "query_timeout_seconds": 0.3})
    driver = create_driver(settings)
    try:
        graph = Graph(driver, settings, metrics)
        with pytest.raises(GraphTimeout):
            await graph.run("metrics.down", "MATCH (n {tenant: $tenant}) RETURN n",
                            {"tenant": "t"})
    finally:
        await driver.close()
    text = generate_latest(metrics.registry).decode()
    assert value(text, "graph_query_errors_total", query="metrics.down",
                 kind="timeout") == 1
    assert value(text, "graph_queries_in_flight") == 0


async def test_cache_hits_and_misses_per_keyspace(client: httpx.AsyncClient,
                                                  alice: Caller) -> None:
    h = alice.headers
    node = f"absent{uuid.uuid4().hex[:8]}"  # no such node: its absence is cached too
    before = await scrape(client)
    hits0 = value(before, "cache_hits_total", cache=KEYSPACE) or 0
    misses0 = value(before, "cache_misses_total", cache=KEYSPACE) or 0

    assert (await client.get(f"/v1/nodes/{node}", headers=h)).status_code == 404
    mid = await scrape(client)
    assert value(mid, "cache_misses_total", cache=KEYSPACE) == misses0 + 1
    assert (value(mid, "cache_hits_total", cache=KEYSPACE) or 0) == hits0

    assert (await client.get(f"/v1/nodes/{node}", headers=h)).status_code == 404
    after = await scrape(client)
    assert value(after, "cache_hits_total", cache=KEYSPACE) == hits0 + 1
    assert value(after, "cache_misses_total", cache=KEYSPACE) == misses0 + 1
    # The first name of these counts tells the same story.
    assert value(after, "graph_cache_events_total", keyspace=KEYSPACE, event="hit") == \
        hits0 + 1
    assert value(after, "graph_cache_events_total", keyspace=KEYSPACE, event="miss") == \
        misses0 + 1
    assert (value(after, "cache_errors_total", cache=KEYSPACE) or 0) == 0


async def test_storage_calls_carry_the_incoming_request_id(client: httpx.AsyncClient,
                                                           alice: Caller, fake: Any) -> None:
    rid = f"rid-{uuid.uuid4().hex[:12]}"
    fake.calls.clear()
    r = await client.post("/context/update", headers={**alice.headers, "X-Request-ID": rid},
                          json={"user_id": alice.person_id,
                                "dimensions": [{"name": "k", "value": "v"}]})
    assert r.status_code == 200 and r.headers["x-request-id"] == rid
    assert fake.calls and {c["request_id"] for c in fake.calls} == {rid}
    # Its latency is on /metrics under the route's template, as every route's is.
    # (the update made the person's node)
    assert (await client.get(f"/v1/nodes/{alice.person_id}",
                             headers=alice.headers)).status_code == 200
    text = await scrape(client)
    assert (value(text, "http_request_duration_seconds_count", route="/context/update",
                  method="POST", service="unison-context-graph") or 0) >= 1
    assert value(text, "http_request_duration_seconds_count", method="GET",
                 route="/v1/nodes/{node_id}") is not None
    assert alice.person_id not in text


async def test_a_generated_request_id_and_trace_follow_the_hop(client: httpx.AsyncClient,
                                                              alice: Caller,
                                                              fake: Any) -> None:
    fake.calls.clear()
    r = await client.post("/context/update", headers=alice.headers,
                          json={"user_id": alice.person_id,
                                "dimensions": [{"name": "k", "value": "w"}]})
    assert r.status_code == 200
    rid, traceparent = r.headers["x-request-id"], r.headers["traceparent"]
    assert fake.calls
    assert {c["request_id"] for c in fake.calls} == {rid}
    # One trace: storage's calls carry the trace the graph service started.
    assert {c["traceparent"] for c in fake.calls} == {traceparent}
