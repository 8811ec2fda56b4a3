"""The Cortex-Prime storage API as a Cortex-Prime client sees it (plus a Bearer token):
paths, bodies, reply shapes, status codes and FastAPI's `{"detail": ...}` errors."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta

from unison_shared.testing import Caller

S = "/storage"
# What datetime.fromisoformat reads on every Python (an offset, never "Z").
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00$")


async def _session(client, caller, **body):
    r = await client.post(f"{S}/sessions", json={"agent_name": "cortex", **body},
                          headers=caller.headers)
    assert r.status_code == 200, r.text
    return r.json()


async def test_sessions_crud_and_list(client, make_caller):
    carol = make_caller()
    s = await _session(client, carol, metadata={"m": 1})
    assert re.fullmatch(r"session_[0-9a-f]{16}", s["id"])
    assert {k: s[k] for k in ("agent_name", "user_id", "status", "metadata")} == {
        "agent_name": "cortex", "user_id": carol.person_id, "status": "active",
        "metadata": {"m": 1}}
    assert ISO.match(s["created_at"]) and ISO.match(s["updated_at"])
    same = await _session(client, carol, user_id=carol.person_id, agent_name="other")
    assert (await client.get(f"{S}/sessions/{s['id']}", headers=carol.headers)).json() == s
    put = await client.put(f"{S}/sessions/{s['id']}", json={"status": "paused"},
                           headers=carol.headers)
    assert put.status_code == 200 and put.json()["status"] == "paused"
    assert put.json()["metadata"] == {"m": 1}
    put = await client.put(f"{S}/sessions/{s['id']}", json={"metadata": {"n": 2}},
                           headers=carol.headers)
    assert put.json()["metadata"] == {"n": 2} and put.json()["status"] == "paused"
    listed = (await client.get(f"{S}/sessions", headers=carol.headers)).json()
    assert [x["id"] for x in listed] == [same["id"], s["id"]]  # newest first
    assert [x["id"] for x in (await client.get(
        f"{S}/sessions", params={"agent_name": "cortex"}, headers=carol.headers)).json()] == [
        s["id"]]
    assert [x["id"] for x in (await client.get(
        f"{S}/sessions", params={"status": "paused", "user_id": carol.person_id},
        headers=carol.headers)).json()] == [s["id"]]
    page = (await client.get(f"{S}/sessions", params={"limit": 1, "offset": 1},
                             headers=carol.headers)).json()
    assert [x["id"] for x in page] == [s["id"]]
    gone = await client.delete(f"{S}/sessions/{s['id']}", headers=carol.headers)
    assert gone.json() == {"status": "deleted", "session_id": s["id"]}
    for method in ("get", "delete"):
        r = await getattr(client, method)(f"{S}/sessions/{s['id']}", headers=carol.headers)
        assert r.status_code == 404 and "detail" in r.json()
    r = await client.put(f"{S}/sessions/{s['id']}", json={}, headers=carol.headers)
    assert r.status_code == 404


async def test_errors_keep_fastapi_shapes(client, alice):
    r = await client.post(f"{S}/sessions", json={}, headers=alice.headers)
    assert r.status_code == 422
    assert isinstance(r.json()["detail"], list) and r.json()["detail"][0]["loc"] == [
        "body", "agent_name"]
    for limit in (0, 1001):
        r = await client.get(f"{S}/sessions", params={"limit": limit}, headers=alice.headers)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "limit"]
    r = await client.get(f"{S}/sessions", params={"offset": -1}, headers=alice.headers)
    assert r.status_code == 422
    for path, extra in (("history", {"session_id": "session_0000000000000000"}),
                        ("artifacts", {}), ("metrics", {})):
        for params in ({"limit": 0}, {"limit": 1001}, {"offset": -1}):
            r = await client.get(f"{S}/{path}", params={**extra, **params},
                                 headers=alice.headers)
            assert r.status_code == 422 and isinstance(r.json()["detail"], list), (path, params)
        r = await client.get(f"{S}/{path}", params={**extra, "limit": 1000},
                             headers=alice.headers)
        assert r.status_code == 200 and r.json() == []
    r = await client.put(f"{S}/sessions/session_0000000000000000", json={"status": "gone"},
                         headers=alice.headers)
    assert r.status_code == 422
    r = await client.get(f"{S}/sessions")
    assert r.status_code == 401 and set(r.json()) == {"detail"}
    r = await client.post(f"{S}/sessions", json={"agent_name": "a", "user_id": "mallory"},
                          headers=alice.headers)
    assert r.status_code == 403 and "detail" in r.json()
    r = await client.get(f"{S}/sessions", params={"user_id": "mallory"},
                         headers=alice.headers)
    assert r.status_code == 403
    r = await client.post(f"{S}/history", content=b'{"session_id": "s", "role": "user", '
                          b'"content": "\\ud800"}',
                          headers={**alice.headers, "Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "content"]
    r = await client.get(f"{S}/history", headers=alice.headers)  # session_id is required
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "session_id"]


async def test_history(client, alice):
    s = await _session(client, alice)
    sid = s["id"]
    for i, role in enumerate(["system", "user", "assistant", "tool"]):
        r = await client.post(f"{S}/history", json={"session_id": sid, "role": role,
                                                    "content": f"c{i}"},
                              headers=alice.headers)
        assert r.status_code == 200, r.text
        m = r.json()
        assert re.fullmatch(r"msg_[0-9a-f]{16}", m["id"]) and m["session_id"] == sid
        assert m["metadata"] == {} and ISO.match(m["timestamp"]) and m["role"] == role
    hist = (await client.get(f"{S}/history", params={"session_id": sid},
                             headers=alice.headers)).json()
    assert [m["content"] for m in hist] == ["c0", "c1", "c2", "c3"]  # oldest first
    page = (await client.get(f"{S}/history", params={"session_id": sid, "limit": 2,
                                                     "offset": 1},
                             headers=alice.headers)).json()
    assert [m["content"] for m in page] == ["c1", "c2"]
    users = (await client.get(f"{S}/history", params={"session_id": sid, "role": "user"},
                              headers=alice.headers)).json()
    assert [m["content"] for m in users] == ["c1"]
    bad = await client.post(f"{S}/history", json={"session_id": sid, "role": "bot",
                                                  "content": "x"}, headers=alice.headers)
    assert bad.status_code == 422 and isinstance(bad.json()["detail"], list)
    missing = await client.post(f"{S}/history", json={"session_id": "session_0000000000000000",
                                                      "role": "user", "content": "x"},
                                headers=alice.headers)
    assert missing.status_code == 404
    r = await client.delete(f"{S}/history", params={"session_id": sid}, headers=alice.headers)
    assert r.json() == {"status": "deleted", "session_id": sid}
    assert (await client.get(f"{S}/history", params={"session_id": sid},
                             headers=alice.headers)).json() == []
    r = await client.delete(f"{S}/history", params={"session_id": sid}, headers=alice.headers)
    assert r.status_code == 404
    after = (await client.post(f"{S}/history", json={"session_id": sid, "role": "user",
                                                     "content": "again"},
                               headers=alice.headers)).json()
    assert after["seq"] == 5  # the sequence goes on
    got = (await client.get(f"{S}/sessions/{sid}", headers=alice.headers)).json()
    assert got["message_count"] == 1


async def test_state(client, alice):
    sid = (await _session(client, alice))["id"]
    empty = (await client.get(f"{S}/state/{sid}", headers=alice.headers)).json()
    assert empty["session_id"] == sid and empty["data"] == {} and ISO.match(
        empty["updated_at"])
    assert (await client.delete(f"{S}/state/{sid}", headers=alice.headers)).status_code == 404
    put = await client.put(f"{S}/state/{sid}", json={"data": {"step": 1, "token": "sk-1"}},
                           headers=alice.headers)
    assert put.status_code == 200 and put.json()["data"] == {"step": 1, "token": "sk-1"}
    await client.put(f"{S}/state/{sid}", json={"data": {"step": 2}}, headers=alice.headers)
    got = (await client.get(f"{S}/state/{sid}", headers=alice.headers)).json()
    assert got["data"] == {"step": 2} and got["version"] == 2
    assert (await client.put(f"{S}/state/{sid}", json={"data": [1]},
                             headers=alice.headers)).status_code == 422
    assert (await client.put(f"{S}/state/session_0000000000000000", json={"data": {}},
                             headers=alice.headers)).status_code == 404
    r = await client.delete(f"{S}/state/{sid}", headers=alice.headers)
    assert r.json() == {"status": "deleted", "session_id": sid}
    assert (await client.get(f"{S}/state/{sid}", headers=alice.headers)).json()["data"] == {}


async def test_artifacts(client, alice):
    sid = (await _session(client, alice))["id"]
    a = await client.post(f"{S}/artifacts", json={"session_id": sid, "name": "out.csv",
                                                  "type": "file", "path": "/tmp/out.csv",
                                                  "size": 12, "metadata": {"x": 1}},
                          headers=alice.headers)
    assert a.status_code == 200, a.text
    art = a.json()
    assert re.fullmatch(r"artifact_[0-9a-f]{16}", art["id"]) and ISO.match(art["created_at"])
    assert {k: art[k] for k in ("session_id", "name", "type", "path", "size", "metadata")} == {
        "session_id": sid, "name": "out.csv", "type": "file", "path": "/tmp/out.csv",
        "size": 12, "metadata": {"x": 1}}
    b = (await client.post(f"{S}/artifacts", json={
        "session_id": sid, "name": "img", "type": "image", "path": "", "size": 0,
        "content_b64": base64.b64encode(b"\x89PNG").decode()}, headers=alice.headers)).json()
    assert b["size"] == 4 and b["object_id"]
    assert (await client.get(f"{S}/artifacts/{art['id']}", headers=alice.headers)).json() == art
    listed = (await client.get(f"{S}/artifacts", params={"session_id": sid},
                               headers=alice.headers)).json()
    assert [x["id"] for x in listed] == [b["id"], art["id"]]  # newest first
    images = (await client.get(f"{S}/artifacts", params={"type": "image", "limit": 5},
                               headers=alice.headers)).json()
    assert [x["id"] for x in images] == [b["id"]]
    for body in ({"session_id": sid, "name": "x"},
                 {"session_id": sid, "name": "x", "type": "f", "content_b64": "!!"}):
        assert (await client.post(f"{S}/artifacts", json=body,
                                  headers=alice.headers)).status_code == 422
    assert (await client.post(f"{S}/artifacts", json={
        "session_id": "session_0000000000000000", "name": "x", "type": "f", "path": "p",
        "size": 1}, headers=alice.headers)).status_code == 404
    r = await client.delete(f"{S}/artifacts/{art['id']}", headers=alice.headers)
    assert r.json() == {"status": "deleted", "artifact_id": art["id"]}
    assert (await client.delete(f"{S}/artifacts/{art['id']}",
                                headers=alice.headers)).status_code == 404
    assert (await client.get(f"{S}/artifacts/{art['id']}",
                             headers=alice.headers)).status_code == 404


async def test_metrics(client, make_caller):
    carol = make_caller()
    sid = (await _session(client, carol))["id"]
    old = (datetime.now(UTC) - timedelta(hours=2)).replace(tzinfo=None).isoformat()
    r = await client.post(f"{S}/metrics", json={
        "entity_type": "agent", "entity_name": "cortex", "session_id": sid,
        "metric_name": "latency_ms", "value": 12.5, "labels": {"tool": "search"}},
                          headers=carol.headers)
    assert r.status_code == 200, r.text
    m = r.json()
    assert re.fullmatch(r"metric_[0-9a-f]{16}", m["id"]) and m["value"] == 12.5
    assert m["session_id"] == sid and m["labels"] == {"tool": "search"}
    assert ISO.match(m["timestamp"])
    tokens = await client.post(f"{S}/metrics", json={
        "entity_type": "agent", "entity_name": "cortex", "metric_name": "tokens", "value": 3,
        "timestamp": old, "labels": {"n": 2, "ok": True, "none": None}}, headers=carol.headers)
    assert tokens.json()["labels"] == {"n": "2", "ok": "true", "none": "null"}
    assert tokens.json()["timestamp"].startswith(old[:19])
    everything = (await client.get(f"{S}/metrics", headers=carol.headers)).json()
    assert [x["metric_name"] for x in everything] == ["latency_ms", "tokens"]  # newest first
    recent = (await client.get(f"{S}/metrics", params={
        "start_time": (datetime.now(UTC) - timedelta(hours=1)).replace(tzinfo=None).isoformat()},
                               headers=carol.headers)).json()
    assert [x["id"] for x in recent] == [m["id"]]
    by = (await client.get(f"{S}/metrics", params={"metric_name": "tokens",
                                                   "entity_type": "agent",
                                                   "entity_name": "cortex"},
                           headers=carol.headers)).json()
    assert len(by) == 1 and by[0]["value"] == 3.0
    assert (await client.get(f"{S}/metrics", params={"session_id": sid, "offset": 1},
                             headers=carol.headers)).json() == []
    for body in ({"entity_type": "a", "entity_name": "b", "metric_name": "c"},
                 {"entity_type": "a", "entity_name": "b", "metric_name": "c", "value": "x"}):
        assert (await client.post(f"{S}/metrics", json=body,
                                  headers=carol.headers)).status_code == 422
    assert (await client.get(f"{S}/metrics", params={"start_time": "yesterday"},
                             headers=carol.headers)).status_code == 422


async def test_cache(client, alice):
    r = await client.put(f"{S}/cache/k1", json={"key": "ignored", "value": {"a": 1}, "ttl": 60},
                         headers=alice.headers)
    assert r.status_code == 200, r.text
    e = r.json()
    assert e["key"] == "k1" and e["value"] == {"a": 1} and e["ttl"] == 60
    assert ISO.match(e["created_at"]) and ISO.match(e["accessed_at"])
    got = (await client.get(f"{S}/cache/k1", headers=alice.headers)).json()
    assert got["value"] == {"a": 1} and got["accessed_at"] >= e["accessed_at"]
    assert set(got) >= {"key", "value", "ttl", "created_at", "accessed_at"}
    forever = (await client.put(f"{S}/cache/k2", json={"key": "k2", "value": {}},
                                headers=alice.headers)).json()
    assert forever["ttl"] == 24 * 3600  # the configured maximum, not forever
    assert (await client.put(f"{S}/cache/k3", json={"value": {}, "ttl": 0},
                             headers=alice.headers)).status_code == 422
    assert (await client.get(f"{S}/cache/missing", headers=alice.headers)).status_code == 404
    r = await client.delete(f"{S}/cache/k1", headers=alice.headers)
    assert r.json() == {"status": "deleted", "key": "k1"}
    assert (await client.delete(f"{S}/cache/k1", headers=alice.headers)).status_code == 404
    assert (await client.get(f"{S}/cache/k1", headers=alice.headers)).status_code == 404
    r = await client.post(f"{S}/cache/cleanup", headers=alice.headers)
    assert r.status_code == 200 and r.json() == {"status": "completed", "deleted": 0}


async def test_session_delete_cascades_and_large_history(client, alice, storage_app):
    from .agent_helpers import count_rows

    sid = (await _session(client, alice))["id"]
    big = "Ω" * 40_000  # 80 KiB of UTF-8
    for content in (big, "small", big):
        r = await client.post(f"{S}/history", json={"session_id": sid, "role": "assistant",
                                                    "content": content},
                              headers=alice.headers)
        assert r.status_code == 200 and r.json()["content"] == content
    hist = (await client.get(f"{S}/history", params={"session_id": sid},
                             headers=alice.headers)).json()
    assert [m["content"] for m in hist] == [big, "small", big]
    await client.put(f"{S}/state/{sid}", json={"data": {"k": 1}}, headers=alice.headers)
    await client.post(f"{S}/artifacts", json={"session_id": sid, "name": "n", "type": "t",
                                              "path": "", "size": 0,
                                              "content_b64": base64.b64encode(b"z").decode()},
                      headers=alice.headers)
    db = storage_app.state.database
    tenant = alice.household_id
    assert await count_rows(db, tenant, "objects") == 2  # one message object, one artifact
    r = await client.delete(f"{S}/sessions/{sid}", headers=alice.headers)
    assert r.status_code == 200
    for table in ("threads", "thread_messages", "thread_state_versions", "thread_artifacts",
                  "objects"):
        assert await count_rows(db, tenant, table) == 0, table
    assert list(storage_app.state.services.objects.store.root.rglob(f"{tenant}/*/*")) == []


async def test_a_workload_acts_for_a_person_by_user_id(client, make_caller):
    carol = make_caller()
    agent = Caller("", carol.household_id, principal_kind="workload", sub="workload-cortex",
                   scopes=["persons:act"])
    r = await client.post(f"{S}/sessions", json={"agent_name": "a", "user_id": carol.person_id},
                          headers=agent.headers)
    assert r.status_code == 200, r.text
    assert r.json()["user_id"] == carol.person_id
    mine = (await client.get(f"{S}/sessions", headers=carol.headers)).json()
    assert [s["id"] for s in mine] == [r.json()["id"]]
    without = await client.post(f"{S}/sessions", json={"agent_name": "a",
                                                       "user_id": carol.person_id},
                                headers=make_caller(household_id=carol.household_id).headers)
    assert without.status_code == 403  # a person cannot act for another
