"""Retries: only calls that are safe to repeat, with the same request id on every
attempt; exercised on a closed port, a real 503 and a proxy that loses connections."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.client.proxy import flaky_proxy
from unison_client import ConnectionError, UnisonClient
from unison_shared.testing import environ, running_app


class Recorder:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    async def __call__(self, request: httpx.Request) -> None:
        self.requests.append(request)

    def client(self, **kw: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(event_hooks={"request": [self]}, **kw)


async def _gen() -> AsyncIterator[bytes]:
    yield b"chunk"


async def test_only_safe_calls_are_retried(alice) -> None:
    from unison_devstack.procs import free_port

    rec = Recorder()
    async with rec.client() as http, UnisonClient(
            storage_url=f"http://127.0.0.1:{free_port()}", token=alice.token, retries=2,
            backoff=0.001, http_client=http) as c:
        calls = {
            "kv.get": (c.kv.get("ns", "k"), 3),
            "kv.put": (c.kv.put("ns", "k", 1), 3),
            "kv.put if_match": (c.kv.put("ns", "k", 1, if_match=1), 1),
            "threads.create": (c.threads.create("a"), 1),
            "vault.put": (c.vault.put("n", "v"), 1),
            "audit.append (client id)": (c.audit.append("a"), 3),
            "upload bytes + key": (c.objects.upload(b"x", idempotency_key="k1"), 3),
            "upload bytes": (c.objects.upload(b"x"), 1),
            "upload iterator + key": (c.objects.upload(_gen(), idempotency_key="k2"), 1),
            "memory.append keyed": (c.memory.append("s", 1, key="k"), 3),
            "memory.append": (c.memory.append("s", 1), 1),
            "vectors.upsert": (c.vectors.upsert("c", [{"id": "a", "embedding": [1.0]}]), 3),
            "vectors.create_collection": (c.vectors.create_collection("c", 1), 1),
        }
        for name, (call, attempts) in calls.items():
            rec.requests.clear()
            with pytest.raises(ConnectionError):
                await call
            assert len(rec.requests) == attempts, name
            ids = {r.headers["x-request-id"] for r in rec.requests}
            assert len(ids) == 1, f"{name}: one request id across attempts"


async def test_503_is_a_connection_error_retried_after_retry_after(storage_env, alice) -> None:
    from unison_storage.main import create_app
    from unison_storage.settings import StorageSettings

    env = {k: v for k, v in storage_env.items() if k != "UNISON_REDIS_URL"}
    env["STORAGE_CACHE_RETRY_AFTER_SECONDS"] = "1"
    with environ(env):
        settings = StorageSettings(redis_url=None)
    rec = Recorder()
    async with running_app(create_app, settings) as app, rec.client(
            transport=httpx.ASGITransport(app=app)) as http, UnisonClient(
            storage_url="http://storage", token=alice.token, http_client=http, retries=2,
            backoff=0.001, max_backoff=0.05) as c:
        with pytest.raises(ConnectionError) as err:
            await c.cache.set("k", "v")
        assert err.value.status == 503 and err.value.retry_after == 1.0
        assert err.value.problem["status"] == 503 and err.value.request_id
        assert len(rec.requests) == 3
        assert await c.cache.get("k") is None  # a read is a miss, not an error


async def test_lost_connections_are_retried_until_the_call_lands(live_storage, alice) -> None:
    async with flaky_proxy(live_storage, drops=2, mode="refuse") as proxy, UnisonClient(
            storage_url=proxy.url, token=alice.token, retries=2, backoff=0.01) as c:
        me = await c.whoami()
    assert me.person_id == alice.person_id and proxy.connections == 3


async def test_a_lost_reply_retried_with_an_idempotency_key_stores_once(live_storage,
                                                                       make_caller) -> None:
    caller = make_caller()
    async with flaky_proxy(live_storage, drops=1, mode="lose_reply") as proxy, UnisonClient(
            storage_url=proxy.url, token=caller.token, retries=2, backoff=0.01) as c:
        meta = await c.objects.upload(b"payload", idempotency_key="report-42")
        assert proxy.connections == 2
        assert [m.id for m in (await c.objects.list()).items] == [meta.id]


async def test_a_lost_reply_without_a_key_is_not_retried(live_storage, make_caller) -> None:
    caller = make_caller()
    async with flaky_proxy(live_storage, drops=1, mode="lose_reply") as proxy, UnisonClient(
            storage_url=proxy.url, token=caller.token, retries=2, backoff=0.01) as c:
        with pytest.raises(ConnectionError):
            await c.threads.create("agent")
        assert proxy.connections == 1
        # The service did create it: a blind retry would have made a second one.
        assert len((await c.threads.list()).items) == 1
