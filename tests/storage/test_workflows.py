"""Suspended workflows: every route with good and bad input, events, approvals,
cancel, resume exactly once (16 concurrent resumers), isolation by guessed ids, and the
context sealed at rest."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from .workflow_helpers import W, body, system_fetch

EVENT = {"kind": "event", "event_id": "invoice.paid"}


def wid() -> str:
    return f"wf-{uuid.uuid4().hex[:12]}"


async def test_suspend_get_list_and_the_context_is_sealed(client, alice, storage_db_url):
    w = wid()
    r = await client.post(f"{W}/{w}/suspend", headers=alice.headers,
                          json=body(EVENT, metadata={"ticket": 7}))
    assert r.status_code == 201, r.text
    got = r.json()
    assert got["status"] == "suspended" and got["suspensions"] == 1
    assert got["conditions"] == [{"kind": "event", "spec": EVENT, "satisfied": False,
                                  "satisfied_at": None, "detail": None}]
    assert "context_state" not in got and got["metadata"] == {"ticket": 7}
    assert (await client.get(f"{W}/{w}", headers=alice.headers)).json() == got
    other = wid()
    await client.post(f"{W}/{other}/suspend", headers=alice.headers,
                      json={**body(), "workflow_name": "billing"})
    page = (await client.get(W, headers=alice.headers, params={"limit": 1})).json()
    assert [i["workflow_id"] for i in page["items"]] == [other]
    rest = (await client.get(W, headers=alice.headers,
                             params={"limit": 1, "cursor": page["next_cursor"]})).json()
    assert [i["workflow_id"] for i in rest["items"]] == [w] and rest["next_cursor"] is None
    named = (await client.get(W, headers=alice.headers,
                              params={"workflow_name": "billing"})).json()["items"]
    assert [i["workflow_id"] for i in named] == [other]
    # No reason and no condition: resumable at once.
    assert named[0]["status"] == "resumable"
    waiting = (await client.get(W, headers=alice.headers,
                                params={"status": "suspended"})).json()["items"]
    assert [i["workflow_id"] for i in waiting] == [w]
    for table in ("workflows", "workflow_conditions"):
        rows = await system_fetch(storage_db_url, f"SELECT row_to_json(x)::text FROM {table} x "
                                  "WHERE tenant_id = $1", alice.household_id)
        assert rows and not any("ctx-secret-marker" in r[0] for r in rows)
    sealed = await system_fetch(storage_db_url, "SELECT position($2::bytea in context_enc) "
                                "FROM workflows WHERE tenant_id = $1", alice.household_id,
                                b"ctx-secret-marker")
    assert [r[0] for r in sealed] == [0, 0]


@pytest.mark.parametrize(("payload", "field"), [
    ({"resume_conditions": [{"kind": "event"}]}, "event_id"),
    ({"resume_conditions": [{"kind": "kv_written", "namespace": "n"}]}, "key"),
    ({"resume_conditions": [{"kind": "timer", "at": "2030-01-01T00:00:00"}]}, "at"),
    ({"resume_conditions": [{"kind": "telepathy"}]}, "resume_conditions.0"),
    ({"suspend_reason": {"kind": "sleep_until"}}, "at"),
    ({"suspend_reason": {"kind": "waiting_for_event", "event_id": "e", "timeout_ms": 0}},
     "timeout_ms"),
    ({"mode": "some"}, "mode"),
    ({"context_state": [1, 2]}, "context_state"),
    ({"workflow_name": ""}, "workflow_name"),
])
async def test_bad_suspend_bodies_name_the_field(client, alice, payload, field):
    r = await client.post(f"{W}/{wid()}/suspend", headers=alice.headers,
                          json={**body(), **payload})
    assert r.status_code == 422, r.text
    assert any(field in e["field"] for e in r.json()["errors"]), r.json()


async def test_bad_input_on_the_other_routes(client, alice):
    w = wid()
    await client.post(f"{W}/{w}/suspend", headers=alice.headers,
                      json=body(reason={"kind": "waiting_for_approval"}))
    cases = [
        (client.post(f"{W}/{w}/approve", headers=alice.headers, json={"decision": "maybe"}),
         "decision"),
        (client.post(f"{W}/{w}/resume", headers=alice.headers, json={"force": "very"}),
         "force"),
        (client.post(f"{W}/events", headers=alice.headers, json={"payload": 1}), "event_id"),
        (client.get(W, headers=alice.headers, params={"status": "sleeping"}), "status"),
        (client.get(W, headers=alice.headers, params={"limit": 0}), "limit"),
        (client.post(f"{W}/has space/suspend", headers=alice.headers, json=body()),
         "workflow_id"),
    ]
    for request, field in cases:
        r = await request
        assert r.status_code == 422, r.text
        assert any(field in e["field"] for e in r.json()["errors"]), r.json()
    # An extra field named like a timeout on a reason that has none is only kept.
    r = await client.post(f"{W}/{wid()}/suspend", headers=alice.headers, json=body(
        reason={"kind": "sleep_until", "at": "2099-01-01T00:00:00Z", "timeout_ms": "soon"}))
    assert r.status_code == 201 and r.json()["timeout_at"] is None
    assert r.json()["suspend_reason"]["timeout_ms"] == "soon"
    r = await client.get(W, headers=alice.headers, params={"cursor": "nonsense"})
    assert r.status_code == 400 and "cursor" in r.json()["detail"]
    assert (await client.get(f"{W}/{w}")).status_code == 401


async def test_an_event_makes_it_resumable_and_resume_hands_the_state_out_once(client, alice):
    w, other = wid(), wid()
    await client.post(f"{W}/{w}/suspend", headers=alice.headers,
                      json=body(reason={"kind": "waiting_for_event", "event_id": "doc.signed"}))
    await client.post(f"{W}/{other}/suspend", headers=alice.headers, json=body(EVENT))
    early = await client.post(f"{W}/{w}/resume", headers=alice.headers)
    assert early.status_code == 409 and "force" in early.json()["detail"]
    r = await client.post(f"{W}/events", headers=alice.headers,
                          json={"event_id": "doc.signed", "payload": {"by": "carol"}})
    assert r.json() == {"matched": [w]}
    got = (await client.get(f"{W}/{w}", headers=alice.headers)).json()
    assert got["status"] == "resumable"
    assert got["conditions"][0]["detail"] == {"event_id": "doc.signed",
                                              "payload": {"by": "carol"}}
    assert (await client.get(f"{W}/{other}", headers=alice.headers)).json()["status"] == \
        "suspended"
    r = await client.post(f"{W}/{w}/resume", headers=alice.headers)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["context_state"] == {"step": 3, "token": "ctx-secret-marker"}
    assert out["current_step"] == "wait"
    assert [b["kind"] for b in out["resumed_by"]] == ["event"]
    again = await client.post(f"{W}/{w}/resume", headers=alice.headers)
    assert again.status_code == 409 and "only once" in again.json()["detail"]
    assert (await client.post(f"{W}/events", headers=alice.headers,
                              json={"event_id": "doc.signed"})).json() == {"matched": []}
    # A finished workflow may suspend again: its next suspension.
    r = await client.post(f"{W}/{w}/suspend", headers=alice.headers,
                          json={**body(EVENT), "current_step": "later"})
    assert r.status_code == 201 and r.json()["suspensions"] == 2
    assert r.json()["status"] == "suspended" and r.json()["resumable_at"] is None
    dup = await client.post(f"{W}/{w}/suspend", headers=alice.headers, json=body())
    assert dup.status_code == 409


async def test_force_mode_any_approval_rejection_and_cancel(client, alice):
    w = wid()
    await client.post(f"{W}/{w}/suspend", headers=alice.headers, json=body(EVENT))
    r = await client.post(f"{W}/{w}/resume", headers=alice.headers, json={"force": True})
    assert r.status_code == 200 and r.json()["resumed_by"] == [
        {"kind": "force", "by": alice.person_id}]
    anyw = wid()
    await client.post(f"{W}/{anyw}/suspend", headers=alice.headers, json=body(
        EVENT, {"kind": "approval"}, mode="any"))
    r = await client.post(f"{W}/{anyw}/approve", headers=alice.headers,
                          json={"decision": "approve", "comment": "ok"})
    assert r.status_code == 200 and r.json()["status"] == "resumable"
    approval = next(c for c in r.json()["conditions"] if c["kind"] == "approval")
    assert approval["detail"] == {"decision": "approve", "comment": "ok",
                                  "by": alice.person_id}
    again = await client.post(f"{W}/{anyw}/approve", headers=alice.headers,
                              json={"decision": "approve"})
    assert again.status_code == 409
    rej = wid()
    await client.post(f"{W}/{rej}/suspend", headers=alice.headers,
                      json=body(reason={"kind": "waiting_for_approval"}))
    r = await client.post(f"{W}/{rej}/approve", headers=alice.headers,
                          json={"decision": "reject", "comment": "no"})
    assert r.json()["status"] == "rejected" and r.json()["finished_at"] is not None
    assert (await client.post(f"{W}/{rej}/resume", headers=alice.headers,
                              json={"force": True})).status_code == 409
    no_approval = wid()
    await client.post(f"{W}/{no_approval}/suspend", headers=alice.headers, json=body(EVENT))
    assert (await client.post(f"{W}/{no_approval}/approve", headers=alice.headers,
                              json={"decision": "approve"})).status_code == 409
    r = await client.post(f"{W}/{no_approval}/cancel", headers=alice.headers)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert (await client.post(f"{W}/{no_approval}/cancel",
                              headers=alice.headers)).status_code == 409
    # Only the open condition of the resumable `any` workflow is left to meet; the
    # forced, cancelled and rejected ones closed theirs.
    assert (await client.post(f"{W}/events", headers=alice.headers,
                              json={"event_id": EVENT["event_id"]})).json()["matched"] == [anyw]


async def test_sixteen_concurrent_resumes_one_wins(client, alice):
    w = wid()
    await client.post(f"{W}/{w}/suspend", headers=alice.headers, json=body())
    replies = await asyncio.gather(*[
        client.post(f"{W}/{w}/resume", headers=alice.headers) for _ in range(16)])
    codes = sorted(r.status_code for r in replies)
    assert codes == [200] + [409] * 15, codes
    winner = next(r for r in replies if r.status_code == 200)
    assert winner.json()["context_state"]["token"] == "ctx-secret-marker"
    forced = wid()
    await client.post(f"{W}/{forced}/suspend", headers=alice.headers, json=body(EVENT))
    replies = await asyncio.gather(*[
        client.post(f"{W}/{forced}/resume", headers=alice.headers, json={"force": True})
        for _ in range(16)])
    assert sorted(r.status_code for r in replies) == [200] + [409] * 15


async def test_guessed_ids_of_another_person_or_household_are_404(client, alice, bob,
                                                                  make_caller):
    w = wid()
    await client.post(f"{W}/{w}/suspend", headers=alice.headers,
                      json=body(EVENT, {"kind": "approval"}))
    housemate = make_caller(household_id=alice.household_id)
    for other in (bob, housemate):
        h = other.headers
        assert (await client.get(f"{W}/{w}", headers=h)).status_code == 404
        for action, payload in (("approve", {"decision": "reject"}), ("resume", {"force": True}),
                                ("cancel", None)):
            r = await client.post(f"{W}/{w}/{action}", headers=h, json=payload)
            assert r.status_code == 404, (action, r.text)
        assert (await client.get(W, headers=h)).json()["items"] == []
        assert (await client.post(f"{W}/events", headers=h,
                                  json={"event_id": EVENT["event_id"]})).json() == {
            "matched": []}
        # Their own workflow under the same id is theirs alone.
        assert (await client.post(f"{W}/{w}/suspend", headers=h,
                                  json=body())).status_code == 201
    got = (await client.get(f"{W}/{w}", headers=alice.headers)).json()
    assert got["status"] == "suspended" and not any(c["satisfied"] for c in got["conditions"])


async def test_a_large_context_is_a_sealed_object_released_by_the_next_suspension(
        client, alice, storage_db_url):
    w = wid()
    big = {"token": "ctx-secret-marker", "blob": "B" * 100_000}
    r = await client.post(f"{W}/{w}/suspend", headers=alice.headers,
                          json={**body(), "context_state": big})
    assert r.status_code == 201 and r.json()["context_bytes"] > 100_000
    [(object_id, inline)] = await system_fetch(
        storage_db_url, "SELECT context_object_id, context_enc FROM workflows "
        "WHERE tenant_id = $1", alice.household_id)
    assert object_id is not None and inline is None
    stored = await client.get(f"/v1/objects/{object_id}", headers=alice.headers)
    assert stored.status_code == 200 and b"ctx-secret-marker" not in stored.content
    assert b"BBBB" not in stored.content
    out = await client.post(f"{W}/{w}/resume", headers=alice.headers)
    assert out.status_code == 200 and out.json()["context_state"] == big
    r = await client.post(f"{W}/{w}/suspend", headers=alice.headers, json=body())
    assert r.status_code == 201
    assert (await client.get(f"/v1/objects/{object_id}",
                             headers=alice.headers)).status_code == 404
    [(gone, inline)] = await system_fetch(
        storage_db_url, "SELECT context_object_id, context_enc FROM workflows "
        "WHERE tenant_id = $1", alice.household_id)
    assert gone is None and inline is not None
