"""Two storage apps (pools, caches and services of their own) on one database: message
appends stay numbered and counted exactly, and state check-and-set loses no update,
whichever replica each request lands on."""

from __future__ import annotations

import asyncio
import itertools

from unison_shared.testing import app_client, running_app

from .conftest import storage_settings

T = "/v1/threads"


async def _increment(client, headers, st, times):
    """Read-modify-write the counter with If-Match until `times` writes won."""
    won = lost = 0
    while won < times:
        got = await client.get(st, headers=headers)
        version, n = int(got.headers["etag"].strip('"')), got.json()["data"]["n"]
        r = await client.put(st, json={"data": {"n": n + 1}},
                             headers={**headers, "If-Match": f'"{version}"'})
        if r.status_code == 200:
            won += 1
        else:
            assert r.status_code == 412, r.text
            lost += 1
    return lost


async def test_two_replicas(client, alice, storage_env):
    from unison_storage.main import create_app

    async with running_app(create_app, storage_settings(storage_env)) as second, \
            app_client(second, "http://storage") as other:
        clients = [client, other]
        tid = (await client.post(T, json={"agent_name": "r"}, headers=alice.headers)).json()["id"]
        m = f"{T}/{tid}/messages"
        rr = itertools.cycle(clients)
        results = await asyncio.gather(*[
            next(rr).post(m, json={"role": "user", "content": f"{i}"}, headers=alice.headers)
            for i in range(60)])
        assert all(r.status_code == 201 for r in results)
        assert sorted(r.json()["seq"] for r in results) == list(range(1, 61))
        for c in clients:
            thread = (await c.get(f"{T}/{tid}", headers=alice.headers)).json()
            assert thread["message_count"] == 60

        st = f"{T}/{tid}/state"
        await client.put(st, json={"data": {"n": 0}}, headers=alice.headers)
        losses = await asyncio.gather(*[_increment(c, alice.headers, st, 8)
                                        for c in clients for _ in range(2)])
        final = (await other.get(st, headers=alice.headers)).json()
        assert final["data"] == {"n": 32} and final["version"] == 33
        assert sum(losses) > 0  # the writers did collide
