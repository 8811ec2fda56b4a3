"""Workflow conditions met by the platform's own writes (a vault secret, an object
upload, a KV record, each through the HTTP API, met in the write's transaction), and
by the background pass (timers and timeouts, two replicas firing each exactly once)."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from unison_storage.main import create_app
from unison_storage.objects.idempotency import object_id_for
from unison_storage.workflows.timers import fire_once

from .conftest import db_settings, fresh_storage_database, running_client
from .workflow_helpers import W, body

KV = {"kind": "kv_written", "namespace": "jobs", "key": "report-ready"}
VAULT = {"kind": "vault_secret_written", "name": "github-token"}


def wid() -> str:
    return f"wf-{uuid.uuid4().hex[:12]}"


async def status(client, caller, w: str) -> str:
    return str((await client.get(f"{W}/{w}", headers=caller.headers)).json()["status"])


async def test_a_vault_write_an_upload_and_a_kv_write_meet_their_conditions(
        client, alice, bob, make_caller):
    housemate = make_caller(household_id=alice.household_id)
    object_id = object_id_for(alice.household_id, alice.person_id, "upload-1")
    obj = {"kind": "object_stored", "object_id": object_id}
    ws = {kind: wid() for kind in ("vault", "object", "kv", "all")}
    for cond, w in ((VAULT, ws["vault"]), (obj, ws["object"]), (KV, ws["kv"])):
        r = await client.post(f"{W}/{w}/suspend", headers=alice.headers, json=body(cond))
        assert r.status_code == 201 and r.json()["status"] == "suspended"
    await client.post(f"{W}/{ws['all']}/suspend", headers=alice.headers,
                      json=body(VAULT, obj, KV))
    # The same writes by someone else (another household, a housemate) meet nothing.
    for other in (bob, housemate):
        assert (await client.put(f"/v1/vault/secrets/{VAULT['name']}", headers=other.headers,
                                 json={"value": "x"})).status_code == 201
        assert (await client.put("/v1/kv/jobs/report-ready", headers=other.headers,
                                 json={"value": 1})).is_success
    assert {await status(client, alice, w) for w in ws.values()} == {"suspended"}

    r = await client.put(f"/v1/vault/secrets/{VAULT['name']}", headers=alice.headers,
                         json={"value": "ghp_secret"})
    assert r.status_code == 201
    assert await status(client, alice, ws["vault"]) == "resumable"
    assert await status(client, alice, ws["all"]) == "suspended"
    r = await client.post("/v1/objects", headers={**alice.headers,
                                                  "Idempotency-Key": "upload-1"},
                          content=b"report bytes")
    assert r.status_code == 201 and r.json()["id"] == object_id
    got = (await client.get(f"{W}/{ws['object']}", headers=alice.headers)).json()
    assert got["status"] == "resumable"
    assert got["conditions"][0]["detail"]["size_bytes"] == len(b"report bytes")
    r = await client.put("/v1/kv/jobs/report-ready", headers=alice.headers,
                         json={"value": {"rows": 3}})
    assert r.is_success
    assert await status(client, alice, ws["kv"]) == "resumable"
    assert await status(client, alice, ws["all"]) == "resumable"
    out = (await client.post(f"{W}/{ws['all']}/resume", headers=alice.headers)).json()
    assert [b["kind"] for b in out["resumed_by"]] == [
        "vault_secret_written", "object_stored", "kv_written"]
    assert out["resumed_by"][0]["detail"] == {"version": 1}


async def test_concurrent_writes_meeting_two_conditions_never_leave_it_waiting(
        client, alice):
    """Write skew: each write sees the other condition unmet unless the workflow row
    lock orders them; every round must end resumable."""
    for round_ in range(8):
        w = wid()
        a = {"kind": "kv_written", "namespace": "race", "key": f"a{round_}"}
        b = {"kind": "kv_written", "namespace": "race", "key": f"b{round_}"}
        await client.post(f"{W}/{w}/suspend", headers=alice.headers, json=body(a, b))
        replies = await asyncio.gather(
            client.put(f"/v1/kv/race/a{round_}", headers=alice.headers, json={"value": 1}),
            client.put(f"/v1/kv/race/b{round_}", headers=alice.headers, json={"value": 2}))
        assert all(r.is_success for r in replies)
        assert await status(client, alice, w) == "resumable", round_


async def test_timers_and_timeouts_fire_in_the_background_pass(client, alice, storage_app):
    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    timer, timeout, past = wid(), wid(), wid()
    await client.post(f"{W}/{timer}/suspend", headers=alice.headers,
                      json=body(reason={"kind": "sleep_until", "at": soon}))
    await client.post(f"{W}/{timeout}/suspend", headers=alice.headers, json=body(
        reason={"kind": "waiting_for_event", "event_id": "never", "timeout_ms": 500}))
    gone = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
    r = await client.post(f"{W}/{past}/suspend", headers=alice.headers,
                          json=body({"kind": "timer", "at": gone}))
    assert r.json()["status"] == "resumable"  # already due when suspended
    assert await status(client, alice, timer) == "suspended"
    assert await status(client, alice, timeout) == "suspended"
    await asyncio.sleep(1.2)
    await fire_once(storage_app.state.services.db, 100)
    assert await status(client, alice, timer) == "resumable"
    out = (await client.post(f"{W}/{timeout}/resume", headers=alice.headers)).json()
    assert out["resumed_by"][0]["kind"] == "timeout"
    assert out["resumed_by"][0]["timeout_ms"] == 500
    assert (await client.get(f"{W}/{timeout}", headers=alice.headers)).json()["timed_out"]


@pytest.fixture(scope="module")
def timers_db(postgres):
    return fresh_storage_database(postgres, "storage_workflow_timers")


async def test_two_replicas_fire_each_timer_once(timers_db, storage_settings_factory, alice):
    url = timers_db
    settings = storage_settings_factory(**db_settings(url), storage={
        "workflow_timer_interval_seconds": 0.2, "workflow_timer_batch_size": 7})
    one, two = create_app(settings), create_app(settings)
    async with running_client(one) as c1, running_client(two) as c2:
        at = (datetime.now(UTC) + timedelta(seconds=1.5)).isoformat()
        ids = [wid() for _ in range(40)]
        for w in ids:
            r = await c1.post(f"{W}/{w}/suspend", headers=alice.headers,
                              json=body(reason={"kind": "sleep_until", "at": at}))
            assert r.status_code == 201
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            page = (await c2.get(W, headers=alice.headers,
                                 params={"status": "resumable", "limit": 100})).json()
            if len(page["items"]) == len(ids):
                break
            await asyncio.sleep(0.2)
        assert len(page["items"]) == len(ids)
        await asyncio.sleep(1)  # a pass that fired the last ones counts them when it ends
        fired = [app.state.metrics.registry.get_sample_value(
            "storage_workflow_timers_fired_total", {"kind": "timer"}) for app in (one, two)]
        # Each timer fired exactly once across the two replicas.
        assert sum(f or 0 for f in fired) == len(ids), fired
