"""Readiness tells the truth about PostgreSQL; the public probes reveal nothing."""

from __future__ import annotations

from pathlib import Path

from tests.context.conftest import context_settings
from unison_shared.testing import app_client, running_app


async def test_readyz_503_names_postgres_when_down(context_env, state_dir: Path):
    from unison_context.main import create_app
    from unison_devstack.procs import free_port

    down = f"postgresql+asyncpg://unison_app@127.0.0.1:{free_port()}/context"
    settings = context_settings(context_env, database_url=down)
    async with running_app(create_app, settings) as app, app_client(app) as c:
        ready = await c.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["failing"] == ["postgres"]
        assert ready.json()["ready"] is False
        health = await c.get("/conversation/health")
        assert health.json() == {"ok": True}
        assert str(down.rsplit(":", 1)[1]) not in health.text
        assert (await c.get("/healthz")).status_code == 200


async def test_openapi_lists_v1_and_legacy_routes(client):
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path in ("/v1/profiles/{person_id}", "/v1/dashboards/{person_id}",
                 "/v1/conversations/{person_id}/sessions/{session_id}/messages",
                 "/profile/{person_id}", "/kv/put", "/profile.export"):
        assert path in paths


async def test_whoami_is_the_authenticated_floor(client, alice):
    r = await client.get("/v1/whoami", headers=alice.headers)
    assert r.json()["person_id"] == alice.person_id
    assert r.json()["tenant_id"] == alice.household_id
    assert (await client.get("/v1/whoami")).status_code == 401
