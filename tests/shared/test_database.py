"""The kit's database handle and request dependencies, on a service built from the kit
alone: a route's connection is in its caller's scope and no other, a write route's
transaction commits when the route returns and rolls back when it raises, and the
kit's readiness tells the truth about PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI

from unison_shared.app import create_service_app
from unison_shared.database import DbConn, DbTx
from unison_shared.errors import Conflict
from unison_shared.settings import AuthSettings, Environment, ServiceSettings
from unison_shared.testing import TEST_SECRET, Caller, app_client, role_url, running_app

NS = "kit-test"
router = APIRouter()


@router.put("/v1/things/{key}")
async def put_thing(key: str, conn: DbTx, fail: bool = False) -> dict[str, Any]:
    tenant, person = await conn.fetchrow(
        "SELECT current_setting('app.tenant_id'), current_setting('app.person_id')")
    await conn.execute(
        "INSERT INTO kv_records (tenant_id, person_id, namespace, key, value, version) "
        "VALUES ($1, $2, $3, $4, '1'::jsonb, 1)", tenant, person, NS, key)
    if fail:
        raise Conflict("refused after the insert: the insert must not stay")
    return {"tenant": tenant, "in_transaction": conn.is_in_transaction()}


@router.get("/v1/things")
async def list_things(conn: DbConn) -> dict[str, Any]:
    rows = await conn.fetch("SELECT tenant_id, key FROM kv_records WHERE namespace = $1 "
                            "ORDER BY key", NS)
    return {"things": [[r[0], r[1]] for r in rows],
            "in_transaction": conn.is_in_transaction()}


def make_app(settings: ServiceSettings) -> FastAPI:
    return create_service_app(settings, title="kit", service_label="unison-kit-test",
                              audience="storage", routers=[router], postgres=True,
                              redis=True)


def settings_for(url: str, redis_url: str | None, pool_size: int = 1) -> ServiceSettings:
    return ServiceSettings(environment=Environment.TEST,
                           database_url=role_url(url, "unison_app"),
                           redis_url=redis_url, database_pool_size=pool_size,
                           auth=AuthSettings(hs256_secret=TEST_SECRET))


@pytest.fixture
async def kit_app(storage_db_url: str, redis_server: Any) -> AsyncIterator[FastAPI]:
    # One connection: every request of the test runs on the same pooled connection.
    async with running_app(make_app, settings_for(storage_db_url, redis_server.url)) as app:
        yield app


async def test_one_pooled_connection_serves_a_then_b_and_b_sees_only_its_rows(kit_app):
    a = Caller(f"p-{uuid.uuid4().hex[:8]}", f"h-{uuid.uuid4().hex[:8]}")
    b = Caller(f"p-{uuid.uuid4().hex[:8]}", f"h-{uuid.uuid4().hex[:8]}")
    assert kit_app.state.database.pool.max_size == 1
    async with app_client(kit_app) as client:
        r = await client.put("/v1/things/a1", headers=a.headers)
        assert r.json() == {"tenant": a.household_id, "in_transaction": True}
        assert (await client.put("/v1/things/b1", headers=b.headers)).status_code == 200
        seen_by_b = (await client.get("/v1/things", headers=b.headers)).json()
        seen_by_a = (await client.get("/v1/things", headers=a.headers)).json()
    assert seen_by_b == {"things": [[b.household_id, "b1"]], "in_transaction": False}
    assert seen_by_a["things"] == [[a.household_id, "a1"]]
    assert kit_app.state.database.pool.size == 1


async def test_a_write_route_that_raises_leaves_nothing_behind(kit_app):
    a = Caller(f"p-{uuid.uuid4().hex[:8]}", f"h-{uuid.uuid4().hex[:8]}")
    async with app_client(kit_app) as client:
        r = await client.put("/v1/things/gone", params={"fail": "true"}, headers=a.headers)
        assert r.status_code == 409
        assert r.headers["content-type"] == "application/problem+json"
        assert (await client.get("/v1/things", headers=a.headers)).json()["things"] == []
        # The connection went back clean: the next write on it commits.
        assert (await client.put("/v1/things/kept", headers=a.headers)).status_code == 200
        assert (await client.get("/v1/things", headers=a.headers)).json()["things"] == [
            [a.household_id, "kept"]]


async def test_the_write_is_committed_before_the_answer(kit_app, storage_db_url):
    import asyncpg

    a = Caller(f"p-{uuid.uuid4().hex[:8]}", f"h-{uuid.uuid4().hex[:8]}")
    async with app_client(kit_app) as client:
        assert (await client.put("/v1/things/seen", headers=a.headers)).status_code == 200
    # Another connection, in the same tenant, sees it as soon as the answer is back.
    conn = await asyncpg.connect(storage_db_url.replace("+asyncpg", ""))
    try:
        await conn.execute("SELECT set_config('app.tenant_id', $1, false)", a.household_id)
        keys = await conn.fetch("SELECT key FROM kv_records WHERE namespace = $1", NS)
    finally:
        await conn.close()
    assert [k[0] for k in keys] == ["seen"]


async def test_readiness_names_postgres_when_it_is_unreachable(redis_server):
    from unison_devstack.procs import free_port

    url = f"postgresql+asyncpg://nobody@127.0.0.1:{free_port()}/none"
    async with running_app(make_app, settings_for(url, redis_server.url)) as app, \
            app_client(app) as client:
        r = await client.get("/readyz")
    assert r.status_code == 503
    body = r.json()
    assert body["failing"] == ["postgres"] and body["checks"]["redis"] == "ok"


def test_a_service_without_postgres_has_no_database():
    app = create_service_app(ServiceSettings(auth=AuthSettings(hs256_secret=TEST_SECRET)),
                             title="kit", service_label="unison-kit-test",
                             audience="storage", routers=[router])
    assert app.state.database is None and app.state.redis is None
