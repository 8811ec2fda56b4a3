"""Retention policies and the maintenance run, in a database of their own (a run covers
every tenant): defaults and tenant overrides, dry run, a real run in small batches with
a crash between two of them, payload objects freed, one run at a time, and the audit log
never touched."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from unison_devstack.tokens import mint_token
from unison_shared.testing import TEST_SECRET
from unison_storage.main import create_app
from unison_storage.retention.service import LOCK

from .conftest import db_settings, fresh_storage_database, running_client
from .workflow_helpers import system_fetch

P = "/v1/retention/policies"
RUN = "/v1/maintenance/run"
OPS = {"Authorization": "Bearer " + mint_token(
    TEST_SECRET, person_id=None, household_id=None, sub="service-ops", type="service",
    roles=["service", "admin"])}


@pytest.fixture(scope="module")
def retention_db(postgres):
    return fresh_storage_database(postgres, "storage_retention")


@pytest.fixture
async def app_and_client(retention_db, storage_settings_factory):
    settings = storage_settings_factory(**db_settings(retention_db), storage={
        "retention_interval_seconds": 0, "retention_batch_size": 2})
    app = create_app(settings)
    async with running_client(app) as c:
        yield app, c


async def test_policies_defaults_overrides_and_bad_input(app_and_client, make_caller):
    _, c = app_and_client
    admin = make_caller(roles=["person", "admin"])
    plain = make_caller(household_id=admin.household_id)
    got = {p["data_class"]: p for p in (await c.get(P, headers=plain.headers)).json()["items"]}
    assert got["traces"] == {"data_class": "traces", "days": 7, "default_days": 7,
                             "source": "default"}
    assert set(got) == {"traces", "threads", "evals", "workflows", "metrics", "memory"}
    assert (await c.put(P, headers=plain.headers, json={"traces": 3})).status_code == 403
    r = await c.put(P, headers=admin.headers, json={"traces": 3, "workflows": 10})
    assert r.status_code == 200, r.text
    got = {p["data_class"]: p for p in r.json()["items"]}
    assert got["traces"]["days"] == 3 and got["traces"]["source"] == "tenant"
    r = await c.put(P, headers=admin.headers, json={"traces": None})
    got = {p["data_class"]: p for p in r.json()["items"]}
    assert got["traces"]["days"] == 7 and got["workflows"]["days"] == 10
    other = make_caller()
    theirs = {p["data_class"]: p for p in (await c.get(P, headers=other.headers)).json()["items"]}
    assert theirs["workflows"]["source"] == "default"
    for body, field in (({"bogus": 1}, "bogus"), ({"traces": 0}, "traces"),
                        ({"memory": "long"}, "memory")):
        r = await c.put(P, headers=admin.headers, json=body)
        assert r.status_code == 422 and any(field in e["field"] for e in r.json()["errors"])
    r = await c.post(RUN, headers=OPS, json={"classes": ["audit"]})
    assert r.status_code == 422 and "classes" in r.json()["errors"][0]["field"]


async def seed(c, caller, old: datetime, url: str) -> None:
    """Expired records of every class for `caller`, and one fresh trace."""
    h = caller.headers
    for i in range(5):
        r = await c.post("/v1/traces/records", headers=h, json={
            "component": "agent", "operation_name": f"old{i}", "start_time": old.isoformat(),
            "end_time": (old + timedelta(seconds=1)).isoformat(),
            "attributes": {"gen_ai.prompt": f"{i}" + "P" * 20_000}})
        assert r.status_code == 201, r.text
    now = datetime.now(UTC)
    await c.post("/v1/traces/records", headers=h, json={
        "component": "agent", "operation_name": "fresh", "start_time": now.isoformat(),
        "end_time": now.isoformat()})
    thread = (await c.post("/v1/threads", headers=h, json={"agent_name": "a"})).json()["id"]
    msg = (await c.post(f"/v1/threads/{thread}/messages", headers=h,
                        json={"role": "user", "content": "M" * 70_000})).json()
    w = f"wf-{uuid.uuid4().hex[:8]}"
    await c.post(f"/v1/workflows/{w}/suspend", headers=h, json={
        "workflow_name": "n", "current_step": "s", "context_state": {"b": "W" * 100_000},
        "suspend_reason": {"kind": "manual"}})
    await c.post(f"/v1/workflows/{w}/cancel", headers=h)
    await c.post("/v1/metrics", headers=h, json={
        "entity_type": "agent", "entity_name": "a", "metric_name": "m", "value": 1,
        "timestamp": old.isoformat()})
    await c.post("/v1/memory/sessions/s1/entries", headers=h, json={"payload": {"x": 1}})
    await c.put("/v1/vault/secrets/s", headers=h, json={"value": "v"})  # audit events
    ds = (await c.post("/v1/evals/datasets", headers=h, json={"name": "qa"})).json()["id"]
    await c.post(f"/v1/evals/datasets/{ds}/items", headers=h,
                 json={"items": [{"id": "i1", "input": "q"}]})
    run = (await c.post("/v1/evals/runs", headers=h,
                        json={"dataset_id": ds, "model_name": "m"})).json()["id"]
    r = await c.post(f"/v1/evals/runs/{run}/scores", headers=h,
                     json={"scores": [{"item_id": "i1", "metric": "acc", "value": 1}]})
    assert r.is_success, r.text
    t = caller.household_id
    await system_fetch(url, "UPDATE threads SET updated_at = $2 WHERE tenant_id = $1", t, old)
    await system_fetch(url, "UPDATE workflows SET finished_at = now() - interval '400 days' "
                       "WHERE tenant_id = $1", t)
    await system_fetch(url, "UPDATE memory_entries SET created_at = $2 WHERE tenant_id = $1",
                       t, old)
    await system_fetch(url, "UPDATE eval_datasets SET created_at = $2 WHERE tenant_id = $1",
                       t, old)
    await system_fetch(url, "UPDATE eval_runs SET started_at = $2 WHERE tenant_id = $1", t, old)
    assert msg["content_bytes"] == 70_000


async def counts(url: str, tenant: str) -> dict[str, int]:
    out = {}
    for table in ("trace_spans", "threads", "thread_messages", "workflows", "agent_metrics",
                  "memory_entries", "audit_events", "objects", "eval_datasets", "eval_scores"):
        rows = await system_fetch(url, f"SELECT count(*) FROM {table} WHERE tenant_id = $1",
                                  tenant)
        out[table] = rows[0][0]
    return out


async def test_dry_run_then_a_run_that_crashes_between_batches_then_finishes(
        app_and_client, make_caller, retention_db):
    app, c = app_and_client
    old = datetime.now(UTC) - timedelta(days=100)
    alice, bob = make_caller(), make_caller(roles=["person", "admin"])
    await seed(c, alice, old, retention_db)
    await seed(c, bob, old, retention_db)
    # bob's household keeps traces for 200 days.
    assert (await c.put(P, headers=bob.headers, json={"traces": 200})).status_code == 200
    before = await counts(retention_db, alice.household_id)
    assert before["objects"] >= 7  # five prompts, the long message, the large context
    assert (await c.post(RUN, headers=alice.headers, json={})).status_code == 403

    dry = (await c.post(RUN, headers=OPS, json={"dry_run": True})).json()
    assert dry["dry_run"] is True
    assert dry["classes"]["traces"]["rows"] >= 5 and dry["classes"]["traces"]["objects"] >= 5
    assert dry["classes"]["threads"]["rows"] >= 2 and dry["classes"]["workflows"]["rows"] >= 2
    assert await counts(retention_db, alice.household_id) == before

    async def crash(name: str, report) -> None:
        if name == "traces" and report.batches == 1:
            raise RuntimeError("the process died")

    with pytest.raises(RuntimeError):
        await app.state.services.retention.run(dry_run=False, after_batch=crash)
    mid = await counts(retention_db, alice.household_id)
    assert before["trace_spans"] > mid["trace_spans"]  # the first batch stayed deleted
    async with app.state.database.exclusive(LOCK):  # another run in progress
        assert (await c.post(RUN, headers=OPS, json={})).status_code == 409
    r = await c.post(RUN, headers=OPS, json={})
    assert r.status_code == 200, r.text
    report = r.json()["classes"]
    assert report["traces"]["batches"] >= 2 and report["traces"]["objects"] >= 1
    assert report["threads"]["objects"] >= 1 and report["threads"]["object_bytes"] > 70_000
    after = await counts(retention_db, alice.household_id)
    assert after["trace_spans"] == 1  # the fresh one
    assert after["threads"] == after["thread_messages"] == after["workflows"] == 0
    assert after["agent_metrics"] == after["memory_entries"] == after["objects"] == 0
    assert after["eval_datasets"] == after["eval_scores"] == 0 < before["eval_scores"]
    assert report["evals"]["rows"] == 2 and report["evals"]["bytes"] > 0  # alice, bob
    assert after["audit_events"] == before["audit_events"] > 0
    kept = await counts(retention_db, bob.household_id)
    assert kept["trace_spans"] == 6 and kept["threads"] == 0
    again = (await c.post(RUN, headers=OPS, json={"dry_run": True})).json()["classes"]
    assert all(v["rows"] == 0 for v in again.values()), again
