"""Health, readiness and metrics of the storage service."""

from __future__ import annotations

from unison_devstack.procs import free_port

from .conftest import running_client


async def test_health_and_ready_legacy_shapes(client):
    for path in ("/health", "/healthz"):
        assert (await client.get(path)).json() == {"status": "ok", "service": "unison-storage"}
    r = await client.get("/readyz")
    assert r.status_code == 200
    assert r.json()["ready"] is True
    assert r.json()["checks"]["postgres"] == "ok"


async def test_metrics_is_prometheus_text(client, alice):
    await client.get("/v1/whoami", headers=alice.headers)
    r = await client.get("/metrics")
    assert r.headers["content-type"].startswith("text/plain")
    assert 'route="/v1/whoami"' in r.text


async def test_ready_is_503_naming_postgres_when_database_is_unreachable(
        storage_settings_factory, make_caller):
    from unison_storage.main import create_app

    dead = f"postgresql+asyncpg://unison@127.0.0.1:{free_port()}/storage"
    app = create_app(storage_settings_factory(database_url=dead))
    async with running_client(app) as c:
        r = await c.get("/readyz")
        assert r.status_code == 503
        assert r.json()["failing"] == ["postgres"]
        assert (await c.get("/healthz")).status_code == 200  # alive, just not ready
        caller = make_caller()
        r = await c.put("/v1/kv/ns/k", json={"value": 1}, headers=caller.headers)
        assert r.status_code == 503, r.text
        assert r.headers["retry-after"] == "1"


async def test_ready_stays_200_when_only_redis_is_down(storage_settings_factory):
    from unison_storage.main import create_app

    app = create_app(storage_settings_factory(redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    async with running_client(app) as c:
        r = await c.get("/readyz")
        assert r.status_code == 200, r.text
        assert r.json()["checks"]["redis"].startswith("failing")


async def test_whoami_reports_scope(client, alice):
    r = await client.get("/v1/whoami", headers=alice.headers)
    assert r.json()["tenant_id"] == alice.household_id
    assert r.json()["person_id"] == alice.person_id


async def test_sweeper_reports_its_work_in_metrics(storage_settings_factory, make_caller):
    import asyncio

    from unison_storage.main import create_app
    from unison_storage.settings import StorageOptions

    settings = storage_settings_factory()
    settings.storage = StorageOptions(**{**settings.storage.model_dump(),
                                         "sweep_interval_seconds": 0.3})
    caller = make_caller()
    async with running_client(create_app(settings)) as c:
        await c.put("/v1/kv/ns/brief", json={"value": 1, "ttl_seconds": 1},
                    headers=caller.headers)
        text = ""
        for _ in range(40):  # the row expires after 1 s; the sweeper runs every 0.3 s
            await asyncio.sleep(0.2)
            text = (await c.get("/metrics")).text
            deleted = [line for line in text.splitlines()
                       if line.startswith('storage_sweeper_deleted_rows_total{table="kv_records"}')]
            if deleted and float(deleted[0].split()[-1]) >= 1:
                break
        else:
            raise AssertionError("the sweeper never reported deleting the expired row")
        stamp = [line for line in text.splitlines()
                 if line.startswith("storage_sweeper_last_success_timestamp_seconds")]
        assert float(stamp[0].split()[-1]) > 0


async def test_service_recovers_when_database_connections_die(storage_settings_factory,
                                                              make_caller, postgres):
    """After PostgreSQL drops the service's connections (a restart, a failover), a request
    may fail with 503 once, but the pool must not keep handing out dead connections."""
    from unison_storage.main import create_app

    name = "unison-storage-conn-loss-test"
    app = create_app(storage_settings_factory(database_application_name=name))
    caller = make_caller()
    async with running_client(app) as c:
        for ns in ("plain", "vault"):  # the raw asyncpg path and the transactional one
            assert (await c.put(f"/v1/kv/{ns}/k", json={"value": 1},
                                headers=caller.headers)).status_code == 201
        killed = postgres.psql("SELECT count(pg_terminate_backend(pid)) FROM "
                               f"pg_stat_activity WHERE application_name = '{name}'")
        assert int(killed) >= 1
        for ns in ("plain", "vault"):
            codes = [(await c.get(f"/v1/kv/{ns}/k", headers=caller.headers)).status_code
                     for _ in range(4)]
            assert codes[0] in (200, 503), codes
            assert codes[1:] == [200, 200, 200], (ns, codes)
