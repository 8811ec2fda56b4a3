"""Audit over HTTP: append, filters and pagination, the append-only trigger, the hash
chain's verification (including a tampered row), isolation and the legacy shape."""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from unison_shared.testing import Caller


async def _append(client, caller, **event):
    r = await client.post("/v1/audit", json=event, headers=caller.headers)
    assert r.status_code == 201, r.text
    return r.json()


async def _all(client, caller, query=""):
    """Every page of a listing, following next_cursor."""
    items, cursor = [], None
    while True:
        sep = "&" if query else ""
        url = f"/v1/audit?{query}{sep}limit=3" + (f"&cursor={cursor}" if cursor else "")
        r = await client.get(url, headers=caller.headers)
        assert r.status_code == 200, r.text
        page = r.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


async def test_append_returns_chained_event(client, alice):
    first = await _append(client, alice, action="login", actor="app", payload={"n": 1.5})
    second = await _append(client, alice, action="logout", actor="app")
    assert (first["seq"], second["seq"]) == (1, 2)
    assert first["prev_hash"] == "0" * 64 and second["prev_hash"] == first["hash"]
    assert first["person_id"] == alice.person_id  # a person's event concerns them
    assert first["payload"] == {"n": 1.5}
    got = await client.get(f"/v1/audit/{first['id']}", headers=alice.headers)
    assert got.status_code == 200 and got.json() == first


async def test_filters_and_pagination(client, alice):
    for i in range(7):
        await _append(client, alice, action="read" if i % 2 else "write",
                      actor=f"agent-{i % 3}", target=f"doc-{i}")
    everything = await _all(client, alice)
    assert [e["seq"] for e in everything] == [7, 6, 5, 4, 3, 2, 1]  # newest first
    ascending = await _all(client, alice, "order=asc")
    assert [e["seq"] for e in ascending] == [1, 2, 3, 4, 5, 6, 7]
    assert [e["seq"] for e in await _all(client, alice, "action=read")] == [6, 4, 2]
    assert [e["seq"] for e in await _all(client, alice, "actor=agent-0")] == [7, 4, 1]
    assert [e["seq"] for e in await _all(client, alice, "target=doc-3")] == [4]
    mine = await _all(client, alice, f"person_id={alice.person_id}")
    assert len(mine) == 7
    assert await _all(client, alice, "action=nothing") == []


async def test_time_range_filter(client, alice):
    before = datetime.now(UTC) - timedelta(milliseconds=1)
    await _append(client, alice, action="a")
    middle = datetime.now(UTC)
    await _append(client, alice, action="b")
    fmt = lambda t: t.isoformat().replace("+00:00", "Z")  # noqa: E731
    since = await _all(client, alice, f"since={fmt(middle)}")
    assert [e["action"] for e in since] == ["b"]
    until = await _all(client, alice, f"until={fmt(middle)}")
    assert [e["action"] for e in until] == ["a"]
    both = await _all(client, alice, f"since={fmt(before)}&until={fmt(middle)}")
    assert [e["action"] for e in both] == ["a"]
    naive = middle.replace(tzinfo=None).isoformat()  # no offset: taken as UTC
    assert [e["action"] for e in await _all(client, alice, f"since={naive}")] == ["b"]


async def test_person_sees_only_own_events_workload_sees_tenant(client, alice,
                                                                make_caller):
    carol = make_caller(household_id=alice.household_id)  # same household
    workload = Caller(None, alice.household_id, principal_kind="workload")
    mine = await _append(client, alice, action="alice-thing")
    await _append(client, carol, action="carol-thing")
    await _append(client, workload, action="tenant-thing")
    assert [e["action"] for e in await _all(client, alice)] == ["alice-thing"]
    assert (await client.get(f"/v1/audit/{mine['id']}",
                             headers=carol.headers)).status_code == 404
    everything = await _all(client, workload)
    assert [e["action"] for e in everything] == ["tenant-thing", "carol-thing",
                                                 "alice-thing"]
    # A person cannot ask for someone else's events (identity rule).
    r = await client.get(f"/v1/audit?person_id={carol.person_id}", headers=alice.headers)
    assert r.status_code == 403


async def test_other_household_cannot_list_or_get(client, alice, bob):
    event = await _append(client, alice, id="evt-shared-name", action="secret-op")
    assert (await client.get(f"/v1/audit/{event['id']}", headers=bob.headers)).status_code == 404
    assert await _all(client, bob) == []
    # Bob's own event with the same id is a separate event in his own chain.
    bobs = await _append(client, bob, id="evt-shared-name", action="bob-op")
    assert bobs["seq"] == 1 and bobs["action"] == "bob-op"
    again = await client.get(f"/v1/audit/{event['id']}", headers=alice.headers)
    assert again.json()["action"] == "secret-op"


async def test_idempotent_retry_returns_first_event(client, alice):
    body = {"id": "retry-1", "action": "pay", "payload": {"amount": 3}}
    first = await _append(client, alice, **body)
    retry = await client.post("/v1/audit", json={**body, "payload": {"amount": 4}},
                              headers=alice.headers)
    assert retry.status_code == 200 and retry.json() == first
    # Concurrent retries of a new id still append exactly once.
    results = await asyncio.gather(*[
        client.post("/v1/audit", json={"id": "race-1", "action": "x"}, headers=alice.headers)
        for _ in range(6)])
    assert sorted(r.status_code for r in results) == [200] * 5 + [201]
    assert len({r.json()["seq"] for r in results}) == 1
    assert len(await _all(client, alice)) == 2


async def test_verify_valid_and_empty(client, alice, bob):
    for i in range(12):
        await _append(client, alice, action=f"act-{i}", payload={"i": i, "s": "é\u2603"})
    r = await client.post("/v1/audit/verify", headers=alice.headers)
    assert r.json() == {"valid": True, "checked": 12, "first_broken_seq": None,
                        "reason": None, "checkpoints_checked": 0}
    assert (await client.post("/v1/audit/verify", headers=bob.headers)).json()["checked"] == 0


async def test_verify_in_small_batches(storage_app, alice):
    from unison_shared.auth import Principal, RequestContext
    from unison_storage.audit.schemas import AuditEventIn

    svc = storage_app.state.services.audit
    ctx = RequestContext(Principal(sub="t", person_id=None, household_id=alice.household_id),
                         alice.household_id, "")
    for i in range(7):
        await svc.record(ctx, AuditEventIn(action=f"a{i}", payload={"x": [1e300, 0.1, 10**30]}))
    result = await svc.verify(ctx, batch=2)
    assert result.valid and result.checked == 7


@pytest.mark.parametrize("statement", [
    "UPDATE audit_events SET action = 'forged'",
    "DELETE FROM audit_events",
    "TRUNCATE audit_events",
])
async def test_trigger_rejects_changes_even_for_the_owner(client, alice, postgres, statement):
    await _append(client, alice, action="keep-me")
    sql = (f"SELECT set_config('app.tenant_id', '{alice.household_id}', false); "
           f"{statement}")
    with pytest.raises(subprocess.CalledProcessError) as failure:
        postgres.psql(sql, "storage_test", "unison")
    assert "append-only" in failure.value.stderr
    events = await _all(client, alice)
    assert [e["action"] for e in events] == ["keep-me"]


async def test_verify_reports_tampered_event(client, alice, postgres):
    events = [await _append(client, alice, action=f"step-{i}") for i in range(5)]
    target = events[2]
    postgres.psql("SET session_replication_role = replica; "
                  f"UPDATE audit_events SET action = 'x' WHERE tenant_id = '{alice.household_id}' "
                  f"AND seq = {target['seq']}", "storage_test", "postgres")
    result = (await client.post("/v1/audit/verify", headers=alice.headers)).json()
    assert result["valid"] is False
    assert result["first_broken_seq"] == 3 and result["checked"] == 2
    assert "hash" in result["reason"]


async def test_verify_reports_deleted_event(client, alice, postgres):
    for i in range(4):
        await _append(client, alice, action=f"step-{i}")
    postgres.psql("SET session_replication_role = replica; "
                  f"DELETE FROM audit_events WHERE tenant_id = '{alice.household_id}' "
                  "AND seq = 4", "storage_test", "postgres")
    result = (await client.post("/v1/audit/verify", headers=alice.headers)).json()
    assert result["valid"] is False and result["first_broken_seq"] == 4


@pytest.mark.parametrize(("method", "path", "body"), [
    ("post", "/v1/audit", {"actor": "x"}),
    ("post", "/v1/audit", {"action": ""}),
    ("post", "/v1/audit", {"action": "a", "payload": {"s": "nul\u0000"}}),
    ("post", "/v1/audit", {"action": "a", "payload": {"big": "x" * 70000}}),
    ("post", "/v1/audit", {"action": "a", "id": "bad\nid"}),
    ("post", "/v1/audit", {"action": "a", "payload": [1]}),
    ("get", "/v1/audit?since=yesterday", None),
    ("get", "/v1/audit?until=2024-13-01", None),
    ("get", "/v1/audit?since=0001-01-01T00:00:00%2B14:00", None),
    ("get", "/v1/audit?actor=%00", None),
    ("post", "/v1/audit", {"action": "\ud800"}),
    ("post", "/v1/audit", {"action": "a", "payload": {"s": "\ud800"}}),
    ("get", "/v1/audit?cursor=%%%", None),
    ("get", "/v1/audit?cursor=ZDp4", None),
    ("get", "/v1/audit?order=asc&cursor=ZDo1", None),
    ("get", "/v1/audit?limit=0", None),
    ("get", "/v1/audit?limit=1001", None),
    ("get", "/v1/audit?order=sideways", None),
])
async def test_bad_input_is_4xx_with_reason(client, alice, method, path, body):
    # Sent as ASCII-escaped JSON so lone surrogates reach the server intact.
    raw = json.dumps(body) if body is not None else None
    r = await client.request(method.upper(), path, content=raw,
                             headers={**alice.headers, "content-type": "application/json"})
    assert 400 <= r.status_code < 500, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["detail"]


async def test_legacy_append_shape(client, alice):
    r = await client.post("/audit", json={"action": "legacy-op", "actor": "orchestrator",
                                          "target": "t1", "decision_id": "d1",
                                          "status": "ok", "person_id": alice.person_id,
                                          "extra": {"k": "v"}, "note": "n"},
                          headers=alice.headers)
    assert r.status_code == 200
    body = r.json()
    assert body["ok"] is True and set(body) == {"ok", "id"}
    event = (await client.get(f"/v1/audit/{body['id']}", headers=alice.headers)).json()
    assert event["decision_id"] == "d1" and event["status"] == "ok"
    assert event["payload"] == {"extra": {"k": "v"}, "note": "n"}
    given = await client.post("/audit", json={"action": "a", "id": "legacy-1"},
                              headers=alice.headers)
    assert given.json() == {"ok": True, "id": "legacy-1"}


@pytest.mark.parametrize("body", [{"actor": "x"}, {"action": ""}, {"action": None}])
async def test_legacy_missing_action_is_400(client, alice, body):
    r = await client.post("/audit", json=body, headers=alice.headers)
    assert r.status_code == 400
    assert r.json() == {"ok": False, "error": "missing-action"}


async def test_legacy_bad_field_and_other_person(client, alice):
    r = await client.post("/audit", json={"action": "a", "actor": 5}, headers=alice.headers)
    assert r.status_code == 400 and r.json()["error"] == "invalid-actor"
    r = await client.post("/audit", json={"action": "a", "person_id": "someone-else"},
                          headers=alice.headers)
    assert r.status_code == 403
