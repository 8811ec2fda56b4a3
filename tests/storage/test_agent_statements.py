"""The hot agent-runtime requests cost one statement each on the statement pool (two for
a state write that names no version: it reads the current one first): message append,
history page, state get and put, metric batch, thread read."""

from __future__ import annotations

from .agent_helpers import new_thread
from .statements import statement_log

T = "/v1/threads"


async def test_hot_paths_are_one_statement(client, alice, storage_app, monkeypatch):
    h = alice.headers
    tid = (await new_thread(client, alice))["id"]
    first = (await client.post(f"{T}/{tid}/messages", json={"role": "user", "content": "a"},
                               headers=h)).json()
    # The tenant's data key is made by the first write, remembered from the second on.
    await client.put(f"{T}/{tid}/state", json={"data": {"n": 0}}, headers=h)
    await client.put(f"{T}/{tid}/state", json={"data": {"n": 1}}, headers=h)
    point = {"entity_type": "a", "entity_name": "b", "metric_name": "c", "value": 1}
    with statement_log(storage_app.state.database.pool, monkeypatch) as log:
        one = [
            client.post(f"{T}/{tid}/messages", json={"role": "assistant", "content": "b",
                                                     "parent_message_id": first["id"]},
                        headers=h),
            client.post("/storage/history", json={"session_id": tid, "role": "user",
                                                  "content": "c"}, headers=h),
            client.get(f"{T}/{tid}/messages", headers=h),
            client.get("/storage/history", params={"session_id": tid}, headers=h),
            client.get(f"{T}/{tid}/state", headers=h),
            client.get(f"/storage/state/{tid}", headers=h),
            client.put(f"{T}/{tid}/state", json={"data": {"n": 2}},
                       headers={**h, "If-Match": '"2"'}),
            client.post("/v1/metrics/batch", json={"points": [point] * 50}, headers=h),
            client.post("/storage/metrics", json=point, headers=h),
            client.get(f"{T}/{tid}", headers=h),
            client.get(f"/storage/sessions/{tid}", headers=h),
        ]
        for request in one:
            sent = await log.of(request)
            assert len(sent) == 1, "\n---\n".join(sent)
        for request in (client.put(f"{T}/{tid}/state", json={"data": {"n": 3}}, headers=h),
                        client.put(f"/storage/state/{tid}", json={"data": {"n": 4}},
                                   headers=h)):
            sent = await log.of(request)
            assert len(sent) == 2 and "SELECT state_version" in sent[0], sent
    state = (await client.get(f"{T}/{tid}/state", headers=h)).json()
    assert state["version"] == 5 and state["data"] == {"n": 4}
