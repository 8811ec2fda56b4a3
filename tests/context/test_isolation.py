"""A person never reads or writes another person's or household's data, through /v1 or
the legacy routes, including by guessed ids."""

from __future__ import annotations

import pytest


@pytest.fixture
async def alice_data(client, alice):
    pid = alice.person_id
    h = alice.headers
    assert (await client.post(f"/profile/{pid}", headers=h,
                              json={"profile": {"secret_word": "A"}})).json()["ok"]
    assert (await client.post(f"/dashboard/{pid}", headers=h,
                              json={"dashboard": {"cards": [{"a": 1}]}})).json()["ok"]
    assert (await client.post(f"/conversation/{pid}/s1", headers=h,
                              json={"messages": [{"content": "A"}]})).json()["ok"]
    assert (await client.post("/kv/put", headers=h, json={
        "person_id": pid, "tier": "B", "items": {f"{pid}:profile:x": "A"}})).json()["ok"]
    assert (await client.post("/kv/set", headers=h, json={"key": "wf:1", "value": "A"})
            ).json()["ok"]
    return pid


def person_routes(pid):
    return [
        ("GET", f"/profile/{pid}", None), ("POST", f"/profile/{pid}", {"profile": {}}),
        ("GET", f"/dashboard/{pid}", None), ("POST", f"/dashboard/{pid}", {"dashboard": {}}),
        ("GET", f"/conversation/{pid}/s1", None),
        ("POST", f"/conversation/{pid}/s1", {"messages": []}),
        ("POST", "/kv/put", {"person_id": pid, "tier": "A", "items": {f"{pid}:k": 1}}),
        ("POST", "/profile.export", {"person_id": pid}),
        ("GET", f"/v1/profiles/{pid}", None), ("PUT", f"/v1/profiles/{pid}", {}),
        ("PATCH", f"/v1/profiles/{pid}", {}), ("GET", f"/v1/profiles/{pid}/history", None),
        ("POST", f"/v1/profiles/{pid}/credentials/verify", {"secret": "1234"}),
        ("GET", f"/v1/dashboards/{pid}", None), ("PUT", f"/v1/dashboards/{pid}", {}),
        ("GET", f"/v1/conversations/{pid}/sessions", None),
        ("DELETE", f"/v1/conversations/{pid}/sessions", None),
        ("GET", f"/v1/conversations/{pid}/sessions/s1/messages", None),
        ("POST", f"/v1/conversations/{pid}/sessions/s1/messages",
         {"messages": [{"role": "user", "content": "x"}]}),
        ("DELETE", f"/v1/conversations/{pid}/sessions/s1", None),
    ]


async def test_other_household_gets_403_everywhere(client, alice_data, bob):
    for method, path, body in person_routes(alice_data):
        r = await client.request(method, path, headers=bob.headers, json=body)
        assert r.status_code == 403, (method, path, r.text)


async def test_same_household_other_person_gets_403(client, alice_data, alice, make_caller):
    carol = make_caller(household_id=alice.household_id)
    for method, path, body in person_routes(alice_data):
        r = await client.request(method, path, headers=carol.headers, json=body)
        assert r.status_code == 403, (method, path)


async def test_non_json_content_type_still_applies_identity_rule(client, alice_data, bob):
    r = await client.post("/kv/put", headers={**bob.headers, "content-type": "text/plain"},
                          content=b'{"person_id": "%s", "tier": "A", "items": {}}'
                          % alice_data.encode())
    assert r.status_code == 403


async def test_guessed_keys_and_sessions_read_nothing(client, alice_data, bob, make_caller,
                                                      alice):
    pid = alice_data
    for caller in (bob, make_caller(household_id=alice.household_id)):
        r = await client.post("/kv/get", headers=caller.headers,
                              json={"keys": [f"{pid}:profile:x", "wf:1"]})
        assert r.json()["values"] == {f"{pid}:profile:x": None, "wf:1": None}
        own = caller.person_id
        r = await client.get(f"/conversation/{own}/s1", headers=caller.headers)
        assert r.json() == {"messages": []}
        r = await client.get(f"/profile/{own}", headers=caller.headers)
        assert r.json()["profile"] is None
        r = await client.get(f"/v1/conversations/{own}/sessions", headers=caller.headers)
        assert r.json()["items"] == []
        r = await client.post("/profile.export", headers=caller.headers,
                              json={"person_id": own})
        assert r.json()["items"] == {}
    # Alice still has everything.
    r = await client.post("/kv/get", headers=alice.headers, json={"keys": ["wf:1"]})
    assert r.json()["values"] == {"wf:1": "A"}


async def test_workload_acting_for_a_person_stays_in_its_household(client, alice_data,
                                                                   alice, make_caller):
    # A workload in another household with the act-for-persons scope names alice: its
    # queries run in its own tenant, where alice has nothing.
    outsider = make_caller(principal_kind="workload", scopes="persons:act")
    r = await client.get(f"/profile/{alice_data}", headers=outsider.headers)
    assert r.status_code == 200
    assert r.json()["profile"] is None
    insider = make_caller(household_id=alice.household_id, principal_kind="workload",
                          scopes="persons:act")
    r = await client.get(f"/profile/{alice_data}", headers=insider.headers)
    assert r.json()["profile"]["secret_word"] == "A"
