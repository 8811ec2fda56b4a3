"""/v1/threads and its messages: create, get, patch, list with filters and cursors,
cascade delete, sequence and count under concurrent appends, large content stored once."""

from __future__ import annotations

import asyncio
import re

from .agent_helpers import count_rows, new_thread

T = "/v1/threads"


async def test_create_get_patch_list(client, alice):
    r = await client.post(T, json={"agent_name": "planner", "title": "trip",
                                   "metadata": {"k": [1, 2]}}, headers=alice.headers)
    assert r.status_code == 201, r.text
    thread = r.json()
    assert re.fullmatch(r"session_[0-9a-f]{16}", thread["id"])
    assert thread["status"] == "active" and thread["message_count"] == 0
    assert thread["person_id"] == alice.person_id and thread["metadata"] == {"k": [1, 2]}
    got = await client.get(f"{T}/{thread['id']}", headers=alice.headers)
    assert got.status_code == 200 and got.json() == thread
    patched = await client.patch(f"{T}/{thread['id']}", json={"status": "paused",
                                                               "title": None},
                                 headers=alice.headers)
    assert patched.status_code == 200, patched.text
    assert patched.json()["status"] == "paused" and patched.json()["title"] is None
    assert patched.json()["metadata"] == {"k": [1, 2]}
    assert patched.json()["updated_at"] > thread["updated_at"]
    bad = await client.patch(f"{T}/{thread['id']}", json={"status": "done"},
                             headers=alice.headers)
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")


async def test_bad_input_is_refused(client, alice):
    for body in ({}, {"agent_name": ""}, {"agent_name": "a", "status": "x"},
                 {"agent_name": "a\x00"}, {"agent_name": "a", "metadata": [1]}):
        r = await client.post(T, json=body, headers=alice.headers)
        assert r.status_code == 422, (body, r.text)
    assert (await client.post(T, json={"agent_name": "a"})).status_code == 401
    assert (await client.get(f"{T}?limit=0", headers=alice.headers)).status_code == 422
    assert (await client.get(f"{T}?limit=1001", headers=alice.headers)).status_code == 422
    assert (await client.get(f"{T}?cursor=nope", headers=alice.headers)).status_code == 400
    assert (await client.get(f"{T}/session_0000000000000000",
                             headers=alice.headers)).status_code == 404
    assert (await client.get(f"{T}/bad%20id", headers=alice.headers)).status_code == 422


async def test_list_filters_and_cursor(client, make_caller):
    carol = make_caller()
    ids = [(await new_thread(client, carol, agent_name="a" if i % 2 else "b"))["id"]
           for i in range(5)]
    await client.patch(f"{T}/{ids[0]}", json={"status": "ended"}, headers=carol.headers)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(T, params=params, headers=carol.headers)).json()
        seen += [t["id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))  # newest first
    only_a = (await client.get(T, params={"agent_name": "a"}, headers=carol.headers)).json()
    assert [t["id"] for t in only_a["items"]] == [ids[3], ids[1]]
    ended = (await client.get(T, params={"status": "ended"}, headers=carol.headers)).json()
    assert [t["id"] for t in ended["items"]] == [ids[0]]


async def test_messages_order_cursor_and_roles(client, alice):
    thread = await new_thread(client, alice)
    m = f"{T}/{thread['id']}/messages"
    first = None
    for i, role in enumerate(["system", "user", "assistant", "tool", "user"]):
        body = {"role": role, "content": f"m{i}", "metadata": {"i": i}}
        if first:
            body["parent_message_id"] = first["id"]
        r = await client.post(m, json=body, headers=alice.headers)
        assert r.status_code == 201, r.text
        first = first or r.json()
        assert re.fullmatch(r"msg_[0-9a-f]{16}", r.json()["id"]) and r.json()["seq"] == i + 1
    oldest = (await client.get(m, params={"limit": 2}, headers=alice.headers)).json()
    assert [x["content"] for x in oldest["items"]] == ["m0", "m1"]
    rest = (await client.get(m, params={"cursor": oldest["next_cursor"]},
                             headers=alice.headers)).json()
    assert [x["content"] for x in rest["items"]] == ["m2", "m3", "m4"]
    assert rest["next_cursor"] is None
    newest = (await client.get(m, params={"order": "newest", "limit": 3},
                               headers=alice.headers)).json()
    assert [x["seq"] for x in newest["items"]] == [5, 4, 3]
    mixed = await client.get(m, params={"cursor": newest["next_cursor"]},
                             headers=alice.headers)
    assert mixed.status_code == 400  # a newest-first cursor on an oldest-first read
    users = (await client.get(m, params={"role": "user"}, headers=alice.headers)).json()
    assert [x["content"] for x in users["items"]] == ["m1", "m4"]
    for body in ({"role": "robot", "content": "x"}, {"role": "user"},
                 {"role": "user", "content": "x", "parent_message_id": "msg_ffffffffffffffff"}):
        assert (await client.post(m, json=body, headers=alice.headers)).status_code == 422
    assert (await client.post(f"{T}/session_0000000000000000/messages",
                              json={"role": "user", "content": "x"},
                              headers=alice.headers)).status_code == 404
    got = (await client.get(f"{T}/{thread['id']}", headers=alice.headers)).json()
    assert got["message_count"] == 5


async def test_concurrent_appends_keep_sequence_and_count(client, alice):
    thread = await new_thread(client, alice)
    m = f"{T}/{thread['id']}/messages"
    results = await asyncio.gather(*[
        client.post(m, json={"role": "user", "content": f"c{i}"}, headers=alice.headers)
        for i in range(40)])
    assert all(r.status_code == 201 for r in results), [r.text for r in results]
    assert sorted(r.json()["seq"] for r in results) == list(range(1, 41))
    got = (await client.get(f"{T}/{thread['id']}", headers=alice.headers)).json()
    assert got["message_count"] == 40
    items = (await client.get(m, params={"limit": 1000}, headers=alice.headers)).json()["items"]
    assert [x["seq"] for x in items] == list(range(1, 41))


async def test_large_content_round_trips_and_dedups(client, alice, storage_app):
    thread = await new_thread(client, alice)
    other = await new_thread(client, alice)
    big = "é" * 40_000 + "tail"  # 80 KiB of UTF-8: over the 64 KiB threshold
    for t in (thread, other, thread):
        r = await client.post(f"{T}/{t['id']}/messages", json={"role": "tool", "content": big},
                              headers=alice.headers)
        assert r.status_code == 201 and r.json()["content"] == big
        assert r.json()["content_bytes"] == len(big.encode())
    items = (await client.get(f"{T}/{thread['id']}/messages",
                              headers=alice.headers)).json()["items"]
    assert [x["content"] for x in items] == [big, big]
    db = storage_app.state.database
    tenant = alice.household_id
    assert await count_rows(db, tenant, "objects") == 1  # three messages, one object
    assert await count_rows(db, tenant, "thread_messages", "content IS NULL") == 3
    r = await client.delete(f"{T}/{thread['id']}", headers=alice.headers)
    assert r.json()["messages"] == 2 and r.json()["payloads"] == 0  # `other` still refers
    assert await count_rows(db, tenant, "objects") == 1
    r = await client.delete(f"{T}/{other['id']}", headers=alice.headers)
    assert r.json()["payloads"] == 1
    assert await count_rows(db, tenant, "objects") == 0
    assert list((storage_app.state.services.objects.store.root).rglob(f"{tenant}/*/*")) == []


async def test_delete_cascades_and_leaves_nothing(client, alice, storage_app):
    thread = await new_thread(client, alice)
    tid = thread["id"]
    await client.post(f"{T}/{tid}/messages", json={"role": "user", "content": "x" * 70_000},
                      headers=alice.headers)
    await client.post(f"{T}/{tid}/messages", json={"role": "user", "content": "hi"},
                      headers=alice.headers)
    for i in range(3):
        await client.put(f"{T}/{tid}/state", json={"data": {"i": i, "pad": "s" * 70_000}},
                         headers=alice.headers)
    await client.post(f"{T}/{tid}/artifacts", json={"name": "a.txt", "type": "file",
                                                    "content_b64": "aGVsbG8="},
                      headers=alice.headers)
    db = storage_app.state.database
    tenant = alice.household_id
    assert await count_rows(db, tenant, "objects") == 5  # message, 3 states, artifact
    r = await client.delete(f"{T}/{tid}", headers=alice.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"id": tid, "messages": 2, "state_versions": 3, "artifacts": 1,
                        "payloads": 5}
    for table in ("threads", "thread_messages", "thread_state_versions", "thread_artifacts",
                  "objects"):
        assert await count_rows(db, tenant, table) == 0, table
    store_root = storage_app.state.services.objects.store.root
    assert list(store_root.rglob(f"{tenant}/*/*")) == []
    assert (await client.get(f"{T}/{tid}", headers=alice.headers)).status_code == 404
    assert (await client.delete(f"{T}/{tid}", headers=alice.headers)).status_code == 404


async def test_parent_must_be_in_the_same_thread(client, alice):
    one = (await new_thread(client, alice))["id"]
    two = (await new_thread(client, alice))["id"]
    parent = (await client.post(f"{T}/{one}/messages", json={"role": "user", "content": "p"},
                                headers=alice.headers)).json()
    r = await client.post(f"{T}/{two}/messages", json={"role": "user", "content": "c",
                                                       "parent_message_id": parent["id"]},
                          headers=alice.headers)
    assert r.status_code == 422 and "parent_message_id" in r.json()["detail"]
    assert (await client.get(f"{T}/{two}", headers=alice.headers)).json()["message_count"] == 0
    ok = await client.post(f"{T}/{one}/messages", json={"role": "assistant", "content": "c",
                                                        "parent_message_id": parent["id"]},
                           headers=alice.headers)
    assert ok.status_code == 201 and ok.json()["parent_message_id"] == parent["id"]
    empty = await client.get(f"{T}/{two}/messages", headers=alice.headers)
    assert empty.status_code == 200 and empty.json() == {"items": [], "next_cursor": None}
    assert (await client.get(f"{T}/session_0000000000000000/messages",
                             headers=alice.headers)).status_code == 404


async def test_concurrent_identical_large_content_is_stored_once(client, alice, storage_app):
    threads = [(await new_thread(client, alice))["id"] for _ in range(8)]
    big = "same " * 20_000
    results = await asyncio.gather(*[
        client.post(f"{T}/{tid}/messages", json={"role": "user", "content": big},
                    headers=alice.headers) for tid in threads])
    assert all(r.status_code == 201 for r in results), [r.text for r in results]
    tenant = alice.household_id
    assert await count_rows(storage_app.state.database, tenant, "objects") == 1
    root = storage_app.state.services.objects.store.root
    assert len([p for p in root.rglob(f"{tenant}/*/*") if p.is_file()]) == 1  # no leftovers
    for tid in threads:
        items = (await client.get(f"{T}/{tid}/messages", headers=alice.headers)).json()
        assert items["items"][0]["content"] == big
