"""Agent-runtime payloads on the S3 backend (a real SeaweedFS): large message content
stored once and read back, a large sealed state, an inline artifact, and every payload
gone from the bucket with its thread."""

from __future__ import annotations

import base64

from .test_objects import app_client

T = "/v1/threads"


async def test_payloads_on_s3(storage_settings_factory, s3_env, alice):
    async with app_client(storage_settings_factory, s3_env) as (c, app):
        h = alice.headers
        store = app.state.services.objects.store

        async def keys() -> list[str]:
            return [b.key async for b in store.list_keys(f"{alice.household_id}/")]

        tid = (await c.post(T, json={"agent_name": "s3"}, headers=h)).json()["id"]
        big = "s3-content " * 10_000
        for _ in range(2):
            r = await c.post(f"{T}/{tid}/messages", json={"role": "tool", "content": big},
                             headers=h)
            assert r.status_code == 201, r.text
        r = await c.put(f"{T}/{tid}/state", json={"data": {"pad": "x" * 100_000}}, headers=h)
        assert r.status_code == 200, r.text
        data = b"\x00artifact\xff" * 1000
        art = (await c.post(f"{T}/{tid}/artifacts", json={
            "name": "a", "type": "f", "content_b64": base64.b64encode(data).decode()},
                            headers=h)).json()
        assert len(await keys()) == 3  # one message object (stored once), state, artifact
        items = (await c.get(f"{T}/{tid}/messages", headers=h)).json()["items"]
        assert [m["content"] for m in items] == [big, big]
        state = (await c.get(f"{T}/{tid}/state", headers=h)).json()
        assert state["data"] == {"pad": "x" * 100_000}
        got = await c.get(f"{T}/{tid}/artifacts/{art['id']}/content", headers=h)
        assert got.content == data
        gone = (await c.delete(f"{T}/{tid}", headers=h)).json()
        assert gone["payloads"] == 3
        assert await keys() == []
