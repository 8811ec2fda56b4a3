"""What /metrics and the logs tell an operator, on real apps with real PostgreSQL and
Redis: request latency per route template (compiled routes too) on storage and context,
the database pools' figures moving as connections are held, waited for and timed out,
cache hits and misses of storage's TTL cache, the trace id in JSON logs, and a call to
storage carrying the request id of the request being served (docs/observability.md)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import APIRouter, FastAPI
from prometheus_client.parser import text_string_to_metric_families

from unison_shared.app import create_service_app
from unison_shared.compiled_routes import planned_routes
from unison_shared.database import DbConn
from unison_shared.logging import JsonFormatter, request_id_var, traceparent_var
from unison_shared.settings import AuthSettings, Environment, ServiceSettings
from unison_shared.storage_client import CallerIdentity, StorageClient
from unison_shared.testing import (
    TEST_SECRET,
    Caller,
    app_client,
    base_env,
    environ,
    role_url,
    running_app,
)

TP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    return [(s.name, s.labels, s.value) for family in text_string_to_metric_families(text)
            for s in family.samples]


def value(text: str, name: str, **labels: str) -> float | None:
    """The sample `name` whose labels include `labels`, or None when absent."""
    for sample_name, sample_labels, sample_value in samples(text):
        if sample_name == name and all(sample_labels.get(k) == v for k, v in labels.items()):
            return sample_value
    return None


async def scrape(client: httpx.AsyncClient) -> str:
    r = await client.get("/metrics")
    assert r.status_code == 200
    return r.text


# --- the database pools, on an app of the kit with one runtime connection -----------

hold_router = APIRouter()
HOLD: dict[str, asyncio.Event] = {}


@hold_router.get("/v1/hold")
async def hold(conn: DbConn) -> dict[str, int]:
    """Holds its connection until the test releases it."""
    HOLD["entered"].set()
    await HOLD["release"].wait()
    return {"one": await conn.fetchval("SELECT 1")}


@hold_router.get("/v1/quick")
async def quick(conn: DbConn) -> dict[str, int]:
    return {"one": await conn.fetchval("SELECT 1")}


@pytest.fixture
async def pool_app(storage_db_url: str, redis_server: Any) -> AsyncIterator[FastAPI]:
    settings = ServiceSettings(
        environment=Environment.TEST, database_url=role_url(storage_db_url, "unison_app"),
        database_system_url=role_url(storage_db_url, "unison_system"),
        redis_url=redis_server.url, database_pool_size=1, access_log=False,
        log_level="WARNING", auth=AuthSettings(hs256_secret=TEST_SECRET))

    def make(s: ServiceSettings) -> FastAPI:
        return create_service_app(s, title="pool", service_label="unison-pool-test",
                                  audience="storage", routers=[hold_router], postgres=True,
                                  redis=True)

    HOLD.update(entered=asyncio.Event(), release=asyncio.Event())
    async with running_app(make, settings) as app:
        yield app


async def until(check: Callable[[], Any], what: str, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, f"never: {what}"
        await asyncio.sleep(0.01)


async def test_runtime_pool_in_use_waiting_and_acquire_time(pool_app: FastAPI,
                                                            alice: Caller) -> None:
    async with app_client(pool_app) as client:
        assert (await client.get("/v1/quick", headers=alice.headers)).status_code == 200
        before = await scrape(client)
        assert value(before, "db_pool_max_connections", pool="runtime") == 1
        assert value(before, "db_pool_connections", pool="runtime", state="idle") == 1
        assert value(before, "db_pool_connections", pool="runtime", state="in_use") == 0
        count_before = value(before, "db_pool_acquire_seconds_count", pool="runtime")
        assert count_before is not None and count_before >= 1

        held = asyncio.create_task(client.get("/v1/hold", headers=alice.headers))
        await asyncio.wait_for(HOLD["entered"].wait(), 10)
        during = await scrape(client)
        assert value(during, "db_pool_connections", pool="runtime", state="in_use") == 1
        assert value(during, "db_pool_connections", pool="runtime", state="idle") == 0
        assert value(during, "db_pool_waiting", pool="runtime") == 0

        # A second request finds no free connection: it waits, and is seen waiting.
        waiter = asyncio.create_task(client.get("/v1/quick", headers=alice.headers))

        async def one_waiting() -> bool:
            return value(await scrape(client), "db_pool_waiting", pool="runtime") == 1

        await until(one_waiting, "a waiter on the pool")
        await asyncio.sleep(0.05)  # the waiter waits at least this long
        HOLD["release"].set()
        assert (await held).status_code == 200 and (await waiter).status_code == 200

        after = await scrape(client)
        assert value(after, "db_pool_connections", pool="runtime", state="in_use") == 0
        assert value(after, "db_pool_connections", pool="runtime", state="idle") == 1
        assert value(after, "db_pool_waiting", pool="runtime") == 0
        assert value(after, "db_pool_acquire_seconds_count",
                     pool="runtime") == count_before + 2
        # The waiter's wait is in the histogram: above 25 ms, below the 30 s bound.
        fast = value(after, "db_pool_acquire_seconds_bucket", pool="runtime", le="0.025")
        assert fast is not None and fast <= count_before + 1
        assert value(after, "db_pool_acquire_seconds_bucket", pool="runtime",
                     le="30.0") == count_before + 2
        total = value(after, "db_pool_acquire_seconds_sum", pool="runtime")
        assert total is not None and total >= 0.05


async def test_runtime_pool_counts_acquire_timeouts(pool_app: FastAPI,
                                                    alice: Caller) -> None:
    pool_app.state.database.pool.acquire_timeout = 0.2
    async with app_client(pool_app) as client:
        before = value(await scrape(client), "db_pool_acquire_timeouts_total", pool="runtime")
        assert before == 0
        held = asyncio.create_task(client.get("/v1/hold", headers=alice.headers))
        await asyncio.wait_for(HOLD["entered"].wait(), 10)
        refused = await client.get("/v1/quick", headers=alice.headers)
        assert refused.status_code == 503
        HOLD["release"].set()
        assert (await held).status_code == 200
        after = await scrape(client)
        assert value(after, "db_pool_acquire_timeouts_total", pool="runtime") == 1


async def test_system_pool_figures(pool_app: FastAPI) -> None:
    db = pool_app.state.database
    async with app_client(pool_app) as client:
        async with db.system() as conn:
            await conn.exec_driver_sql("SELECT 1")
            during = await scrape(client)
        after = await scrape(client)
    assert value(during, "db_pool_connections", pool="system", state="in_use") == 1
    assert value(after, "db_pool_connections", pool="system", state="in_use") == 0
    assert value(after, "db_pool_connections", pool="system", state="idle") == 1
    assert value(after, "db_pool_max_connections", pool="system") == 4


async def test_pool_metrics_leave_the_registry_with_the_database(storage_db_url: str) -> None:
    settings = ServiceSettings(
        environment=Environment.TEST, database_url=role_url(storage_db_url, "unison_app"),
        auth=AuthSettings(hs256_secret=TEST_SECRET))

    def make(s: ServiceSettings) -> FastAPI:
        return create_service_app(s, title="p", service_label="unison-pool-test",
                                  audience="storage", postgres=True)

    app = make(settings)
    for _ in range(2):  # a second lifespan registers again without a duplicate error
        async with app.router.lifespan_context(app), app_client(app) as client:
            assert value(await scrape(client), "db_pool_max_connections",
                         pool="runtime") == settings.database_pool_size


# --- storage: routes, cache, pool and the request id of calls to it ---------------


@pytest.fixture(scope="module")
async def storage_app(storage_db_url: str, redis_server: Any,
                      state_dir: Path) -> AsyncIterator[FastAPI]:
    from unison_storage.main import create_app
    from unison_storage.settings import StorageSettings

    env = {**base_env(storage_db_url, redis_server.url, state_dir / "obs-storage-state"),
           "STORAGE_OBJECT_FS_ROOT": str(state_dir / "obs-objects"),
           "STORAGE_SWEEP_INTERVAL_SECONDS": "86400"}
    with environ(env):
        settings = StorageSettings()
    async with running_app(create_app, settings) as app:
        yield app


async def test_storage_latency_is_labelled_by_route_template(storage_app: FastAPI,
                                                             alice: Caller) -> None:
    key = f"k-{uuid.uuid4().hex}"
    assert "GET /v1/kv/{namespace}/{key}" in planned_routes(storage_app)  # compiled
    async with app_client(storage_app, "http://storage") as client:
        before = await scrape(client)
        assert (await client.get(f"/v1/kv/obs/{key}", headers=alice.headers)).status_code == 404
        assert (await client.get(f"/no/such/{key}")).status_code == 404
        after = await scrape(client)
    labels = {"service": "unison-storage", "method": "GET",
              "route": "/v1/kv/{namespace}/{key}"}
    was = value(before, "http_request_duration_seconds_count", **labels) or 0
    assert value(after, "http_request_duration_seconds_count", **labels) == was + 1
    assert value(after, "http_requests_total", status="404", **labels) is not None
    assert value(after, "http_request_duration_seconds_count", route="unmatched")
    assert key not in after  # raw paths (keys, names) never become labels


async def test_storage_pool_figures_on_metrics(storage_app: FastAPI) -> None:
    async with app_client(storage_app, "http://storage") as client:
        text = await scrape(client)
    size = storage_app.state.settings.database_pool_size
    assert value(text, "db_pool_max_connections", pool="runtime") == size
    assert value(text, "db_pool_connections", pool="runtime", state="idle") is not None
    assert value(text, "db_pool_waiting", pool="runtime") == 0
    assert value(text, "db_pool_acquire_seconds_count", pool="runtime") is not None
    assert value(text, "db_pool_max_connections", pool="system") == 4


async def test_storage_cache_hits_and_misses(storage_app: FastAPI, alice: Caller) -> None:
    key = f"c-{uuid.uuid4().hex[:12]}"
    cache = {"cache": "storage:cache"}
    async with app_client(storage_app, "http://storage") as client:
        before = await scrape(client)
        hits0 = value(before, "cache_hits_total", **cache) or 0
        misses0 = value(before, "cache_misses_total", **cache) or 0
        assert (await client.get(f"/v1/cache/{key}", headers=alice.headers)).status_code == 404
        mid = await scrape(client)
        assert value(mid, "cache_misses_total", **cache) == misses0 + 1
        assert (value(mid, "cache_hits_total", **cache) or 0) == hits0
        put = await client.put(f"/v1/cache/{key}", headers=alice.headers,
                               json={"value": {"n": 1}, "ttl": 60})
        assert put.status_code == 200
        assert (await client.get(f"/v1/cache/{key}", headers=alice.headers)).status_code == 200
        after = await scrape(client)
    assert value(after, "cache_hits_total", **cache) == hits0 + 1
    assert value(after, "cache_misses_total", **cache) == misses0 + 1
    assert (value(after, "cache_errors_total", **cache) or 0) == 0


class Recording(httpx.AsyncBaseTransport):
    """An ASGI transport that keeps every request and reply."""

    def __init__(self, app: FastAPI) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.seen: list[tuple[httpx.Request, httpx.Response]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        self.seen.append((request, response))
        return response


async def test_storage_calls_carry_the_served_request_id(storage_app: FastAPI,
                                                         alice: Caller) -> None:
    transport = Recording(storage_app)
    client = StorageClient("http://storage", transport=transport)
    # No ids in the identity: they come from the request being served.
    who = CallerIdentity(token=alice.token, tenant=alice.household_id,
                         audiences=("storage",))
    try:
        rid = request_id_var.set("rid-served-1")
        tp = traceparent_var.set(TP)
        try:
            await client.put(who, "obs", "rid", {"v": 1})
            assert await client.get(who, "obs", "rid") == {"v": 1}
        finally:
            request_id_var.reset(rid)
            traceparent_var.reset(tp)
        assert len(transport.seen) == 2
        for request, response in transport.seen:
            assert request.headers["x-request-id"] == "rid-served-1"
            assert request.headers["traceparent"] == TP
            assert response.headers["x-request-id"] == "rid-served-1"  # storage used it
        # Outside a request: a fresh id per call, never the last request's.
        await client.get(who, "obs", "rid")
        fresh = transport.seen[-1][0].headers["x-request-id"]
        assert fresh != "rid-served-1" and len(fresh) == 32
    finally:
        await client.aclose()


async def test_the_clients_header_source_and_trace_context(storage_app: FastAPI,
                                                             alice: Caller) -> None:
    """`UnisonClient(headers=...)`: a callable asked per call (any header-name case);
    `trace_context` wins over it; a malformed traceparent is never sent on."""
    from unison_client import UnisonClient, trace_context

    transport = Recording(storage_app)
    source = {"x-request-id": "rid-source-1", "TraceParent": TP, "X-Extra": "yes"}
    async with UnisonClient(storage_url="http://storage", transport=transport,
                            token=alice.token, headers=lambda: dict(source)) as client:
        await client.whoami()
        source["x-request-id"] = "rid-source-2"
        source["TraceParent"] = "not-a-traceparent"
        await client.whoami()
        other = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        with trace_context(request_id="rid-explicit", traceparent=other):
            await client.whoami()
    sent = [request.headers for request, _ in transport.seen]
    assert [h["x-request-id"] for h in sent] == ["rid-source-1", "rid-source-2",
                                                 "rid-explicit"]
    assert sent[0]["traceparent"] == TP and sent[0]["x-extra"] == "yes"
    assert sent[1]["traceparent"] not in (TP, "not-a-traceparent")
    assert sent[1]["traceparent"].startswith("00-")
    assert sent[2]["traceparent"] == other
    assert all(len(h.get_list("x-request-id")) == 1 for h in sent)


# --- context: routes and pool --------------------------------------------------------


@pytest.fixture(scope="module")
def context_url(migrated_database: Callable[[str, str], str]) -> str:
    return migrated_database("shared_obs_context", "context")


@pytest.fixture(scope="module")
async def context_app(context_url: str, state_dir: Path) -> AsyncIterator[FastAPI]:
    from unison_context.main import create_app
    from unison_context.settings import ContextSettings

    url = context_url
    env = {**base_env(url, None, state_dir / "obs-context-state"),
           "CONTEXT_PIN_TIME_COST": "1", "CONTEXT_PIN_MEMORY_COST_KIB": "1024",
           "CONTEXT_PIN_PARALLELISM": "1"}
    with environ(env):
        settings = ContextSettings()
    async with running_app(create_app, settings) as app:
        yield app


async def test_context_route_latency_and_pool(context_app: FastAPI, alice: Caller) -> None:
    erasure = "/v1/admin/persons/{person_id}/erasure"
    assert "GET /v1/whoami" in planned_routes(context_app)  # a compiled route
    assert "GET /v1/profiles/{person_id}" not in planned_routes(context_app)  # FastAPI's
    assert f"POST {erasure}" not in planned_routes(context_app)  # FastAPI's (DbTx)
    async with app_client(context_app, "http://context") as client:
        assert (await client.get("/v1/whoami", headers=alice.headers)).status_code == 200
        r = await client.get(f"/v1/profiles/{alice.person_id}", headers=alice.headers)
        assert r.status_code in (200, 404)
        # Not an operator: refused, and counted under the route's template.
        r = await client.post(f"/v1/admin/persons/{alice.person_id}/erasure",
                              headers=alice.headers)
        assert r.status_code == 403
        text = await scrape(client)
    assert value(text, "http_request_duration_seconds_count", service="unison-context",
                 route="/v1/profiles/{person_id}", method="GET") == 1
    assert value(text, "http_requests_total", service="unison-context", route=erasure,
                 method="POST", status="403") == 1
    assert value(text, "http_requests_total", service="unison-context", route="/v1/whoami",
                 method="GET", status="200") == 1
    assert alice.person_id not in text
    assert value(text, "db_pool_max_connections", pool="runtime") == \
        context_app.state.settings.database_pool_size
    assert value(text, "db_pool_connections", pool="runtime", state="in_use") == 0
    assert (value(text, "db_pool_acquire_seconds_count", pool="runtime") or 0) >= 1


# --- logs ------------------------------------------------------------------------------


def test_json_logs_carry_the_request_and_trace_ids() -> None:
    fmt = JsonFormatter("svc")
    record = logging.LogRecord("unison.http", logging.INFO, __file__, 1, "request", None,
                               None)
    rid = request_id_var.set("rid-log-1")
    tp = traceparent_var.set(TP)
    try:
        line = orjson.loads(fmt.format(record))
    finally:
        request_id_var.reset(rid)
        traceparent_var.reset(tp)
    assert line["request_id"] == "rid-log-1"
    assert line["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    outside = orjson.loads(fmt.format(record))
    assert "request_id" not in outside and "trace_id" not in outside
