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


class _Proxy:
    """A TCP forwarder to PostgreSQL that can be cut and restored (an outage)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.server = None
        self.pipes: list = []
        self.tasks: list = []

    async def start(self, port: int) -> None:
        import asyncio

        async def pipe(reader, writer):
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                writer.close()

        async def handle(reader, writer):
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
            self.pipes += [writer, up_writer]
            self.tasks += [asyncio.ensure_future(pipe(reader, up_writer)),
                           asyncio.ensure_future(pipe(up_reader, writer))]

        self.server = await asyncio.start_server(handle, "127.0.0.1", port)

    async def cut(self) -> None:
        self.server.close()
        await self.server.wait_closed()
        for w in self.pipes:
            w.close()
        self.pipes = []


async def test_readyz_recovers_without_restart(context_env, context_db_url, postgres, alice):
    import asyncio

    from sqlalchemy.engine import make_url

    from unison_context.main import create_app
    from unison_devstack.procs import free_port

    port = free_port()
    proxy = _Proxy(postgres.port)
    await proxy.start(port)
    url = make_url(context_env["UNISON_DATABASE_URL"]).set(port=port)
    settings = context_settings(context_env, database_url=url.render_as_string(
        hide_password=False))
    async with running_app(create_app, settings) as app, app_client(app) as c:
        assert (await c.get("/readyz")).status_code == 200
        assert (await c.get(f"/profile/{alice.person_id}", headers=alice.headers)
                ).status_code == 200
        await proxy.cut()
        ready = await c.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["failing"] == ["postgres"]
        r = await c.get(f"/v1/profiles/{alice.person_id}", headers=alice.headers)
        assert r.status_code == 503  # unreachable, not a 500
        await proxy.start(port)
        for _ in range(50):
            if (await c.get("/readyz")).status_code == 200:
                break
            await asyncio.sleep(0.1)
        assert (await c.get("/readyz")).status_code == 200
        r = await c.post(f"/profile/{alice.person_id}", headers=alice.headers,
                         json={"profile": {"back": True}})
        assert r.json()["ok"] is True
    await proxy.cut()
