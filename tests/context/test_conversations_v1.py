"""/v1 conversations: append, cursor pages both ways, sessions newest first, deletes;
the legacy POST and /v1 read the same rows."""

from __future__ import annotations


def base(caller):
    return f"/v1/conversations/{caller.person_id}/sessions"


async def _append(client, caller, sid, *texts):
    r = await client.post(f"{base(caller)}/{sid}/messages", headers=caller.headers, json={
        "messages": [{"role": "user", "content": t, "metadata": {"i": t}} for t in texts]})
    assert r.status_code == 201, r.text
    return r.json()


async def test_append_and_page_both_directions(client, alice):
    out = await _append(client, alice, "s1", *[f"m{i}" for i in range(7)])
    assert [m["seq"] for m in out] == list(range(1, 8))
    assert out[0]["created_at"]
    assert out[0]["role"] == "user"
    await _append(client, alice, "s1", "m7")
    url = f"{base(alice)}/s1/messages"
    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(url, headers=alice.headers, params=params)).json()
        seen += [m["content"] for m in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"m{i}" for i in range(8)]
    seen, cursor = [], None
    while True:
        params = {"limit": 3, "order": "desc", **({"cursor": cursor} if cursor else {})}
        page = (await client.get(url, headers=alice.headers, params=params)).json()
        seen += [m["content"] for m in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"m{i}" for i in reversed(range(8))]


async def test_state_sessions_newest_first_and_deletes(client, alice):
    for sid in ("a", "b", "c"):
        await _append(client, alice, sid, f"hello {sid}")
    r = await client.patch(f"{base(alice)}/a", headers=alice.headers,
                           json={"response": {"text": "r"}, "summary": "sum"})
    assert r.json()["response"] == {"text": "r"}
    assert r.json()["summary"] == "sum"
    assert r.json()["message_count"] == 1
    r = await client.patch(f"{base(alice)}/a", headers=alice.headers, json={"summary": "s2"})
    assert r.json()["response"] == {"text": "r"}  # left out: unchanged
    page = (await client.get(base(alice), headers=alice.headers, params={"limit": 2})).json()
    assert [s["session_id"] for s in page["items"]] == ["a", "c"]
    rest = (await client.get(base(alice), headers=alice.headers,
                             params={"limit": 2, "cursor": page["next_cursor"]})).json()
    assert [s["session_id"] for s in rest["items"]] == ["b"]
    assert rest["next_cursor"] is None
    assert (await client.delete(f"{base(alice)}/b", headers=alice.headers)).status_code == 204
    assert (await client.delete(f"{base(alice)}/b", headers=alice.headers)).status_code == 404
    assert (await client.get(f"{base(alice)}/b", headers=alice.headers)).status_code == 404
    r = await client.delete(base(alice), headers=alice.headers)
    assert r.json() == {"deleted": 2}
    assert (await client.get(base(alice), headers=alice.headers)).json()["items"] == []


async def test_legacy_and_v1_share_rows(client, alice):
    pid = alice.person_id
    await client.post(f"/conversation/{pid}/shared", headers=alice.headers, json={
        "messages": [{"role": "user", "content": "legacy"}], "response": {"t": 1},
        "summary": "s"})
    await _append(client, alice, "shared", "appended")
    legacy = (await client.get(f"/conversation/{pid}/shared", headers=alice.headers)).json()
    assert [m["content"] for m in legacy["messages"]] == ["legacy", "appended"]
    assert legacy["messages"][1]["role"] == "user"
    v1 = (await client.get(f"{base(alice)}/shared/messages", headers=alice.headers)).json()
    assert [m["content"] for m in v1["items"]] == ["legacy", "appended"]
    session = (await client.get(f"{base(alice)}/shared", headers=alice.headers)).json()
    assert session["summary"] == "s"
    assert session["response"] == {"t": 1}


async def test_concurrent_appends_keep_one_order(client, alice):
    import asyncio

    await asyncio.gather(*(_append(client, alice, "busy", f"m{i}", f"n{i}")
                           for i in range(16)))
    page = (await client.get(f"{base(alice)}/busy/messages", headers=alice.headers,
                             params={"limit": 100})).json()
    assert [m["seq"] for m in page["items"]] == list(range(1, 33))
    contents = [m["content"] for m in page["items"]]
    for i in range(16):  # each call's messages are adjacent and in order
        at = contents.index(f"m{i}")
        assert contents[at + 1] == f"n{i}"


async def test_session_message_cap(context_env, alice):
    from tests.context.conftest import context_settings
    from unison_context.main import create_app
    from unison_shared.testing import app_client, running_app

    settings = context_settings({**context_env, "CONTEXT_MAX_MESSAGES_PER_SESSION": "3"})
    async with running_app(create_app, settings) as app, app_client(app) as c:
        await _append(c, alice, "capped", "a", "b")
        r = await c.post(f"{base(alice)}/capped/messages", headers=alice.headers,
                         json={"messages": [{"role": "user", "content": x} for x in "cd"]})
        assert r.status_code == 422
        assert r.json()["field"] == "messages"
        r = await c.get(f"{base(alice)}/capped", headers=alice.headers)
        assert r.json()["message_count"] == 2
        r = await c.post(f"/conversation/{alice.person_id}/capped", headers=alice.headers,
                         json={"messages": list("abcd")})
        assert r.status_code == 400
        assert r.json()["field"] == "messages"
