"""Concurrent idempotent upserts of one node and one relationship leave one of each."""

from __future__ import annotations

import asyncio


async def test_concurrent_upserts_make_one_node_and_one_edge(client, alice):
    h = alice.headers
    node = {"id": "cc-1", "labels": ["Device"], "props": {"type": "phone"}}
    results = await asyncio.gather(*(client.put("/v1/nodes/cc-1", json=node, headers=h)
                                     for _ in range(8)))
    assert all(r.status_code == 200 for r in results), [r.text for r in results]
    await client.put("/v1/nodes/cc-p", json={"id": "cc-p", "labels": ["Person"]}, headers=h)
    rel = {"start_id": "cc-p", "end_id": "cc-1", "type": "OWNS"}
    results = await asyncio.gather(*(client.post("/v1/relationships", json=rel, headers=h)
                                     for _ in range(8)))
    assert all(r.status_code == 200 for r in results), [r.text for r in results]
    got = (await client.get("/v1/nodes/cc-1", headers=h)).json()
    assert got["degree"] == 1
    hood = (await client.get("/v1/nodes/cc-p/neighbours", headers=h)).json()
    assert [i["node"]["id"] for i in hood["items"]] == ["cc-1"]
