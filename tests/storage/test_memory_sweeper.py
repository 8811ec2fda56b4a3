"""The memory sweeper: expired rows deleted in batches, safely from several sweepers at
once, while live entries stay."""

from __future__ import annotations

import asyncio
import contextvars

import pytest

from .test_memory import _sid, _write


@pytest.fixture
def quiet_background_sweeper(monkeypatch):
    """Route every sweep through a recorder; sweeps from the app's own background task
    (created outside this test's context) do nothing meanwhile, so counts are exact."""
    from unison_storage import sweeper
    from unison_storage.memory import repository as memory_repo

    in_test: contextvars.ContextVar[bool] = contextvars.ContextVar("in_test", default=False)
    in_test.set(True)
    calls: list[tuple[int, int]] = []

    async def recorded(conn, batch):
        if not in_test.get():
            return 0
        deleted = await memory_repo.sweep_expired(conn, batch)
        calls.append((batch, deleted))
        return deleted

    monkeypatch.setattr(sweeper, "SWEEPS", {"memory_entries": recorded})
    return calls


async def _expired_counts(services) -> tuple[int, int]:
    """Rows expired now, and rows expired within 5 s (bounds for what a sweep may take)."""
    async with services.db.system() as conn:
        row = (await conn.exec_driver_sql(
            "SELECT count(*) FILTER (WHERE expires_at <= now()), "
            "count(*) FILTER (WHERE expires_at <= now() + interval '5 seconds') "
            "FROM memory_entries")).one()
    return int(row[0]), int(row[1])


async def test_sweeper_deletes_expired_rows_in_batches(client, alice, storage_app,
                                                       quiet_background_sweeper):
    from unison_storage.sweeper import sweep_once

    sid = _sid()
    for i in range(10):
        await _write(client, alice, sid, payload=i, ttl_seconds=1)
    live = await _write(client, alice, sid, payload="stays", ttl_seconds=600)
    await asyncio.sleep(1.1)
    services = storage_app.state.services
    low, high = await _expired_counts(services)
    totals = await sweep_once(services, 3)
    calls = quiet_background_sweeper
    assert low <= totals["memory_entries"] <= high and totals["memory_entries"] >= 10
    assert all(batch == 3 and deleted <= 3 for batch, deleted in calls)
    assert len(calls) >= 4 and calls[-1][1] < 3  # full batches, then a short last one
    r = await client.get(f"/memory/{sid}", headers=alice.headers)
    assert r.json()["data"] == "stays"
    async with services.db.in_tenant(alice.household_id) as conn:
        rows = await conn.fetch("SELECT id FROM memory_entries WHERE session_id = $1", sid)
    assert [row[0] for row in rows] == [live["id"]]


async def test_concurrent_sweeps_delete_each_row_once(client, alice, storage_app,
                                                      quiet_background_sweeper):
    from unison_storage.sweeper import sweep_once

    sids = [_sid() for _ in range(3)]
    for i in range(30):
        await _write(client, alice, sids[i % 3], payload=i, ttl_seconds=1)
    await asyncio.sleep(1.1)
    services = storage_app.state.services
    low, high = await _expired_counts(services)
    first, second = await asyncio.gather(sweep_once(services, 4), sweep_once(services, 4))
    swept = first["memory_entries"] + second["memory_entries"]
    # Every expired row deleted, none counted twice.
    assert max(low, 30) <= swept <= high
    assert swept == sum(deleted for _, deleted in quiet_background_sweeper)
    for sid in sids:
        r = await client.get(f"/memory/{sid}", headers=alice.headers)
        assert r.json() == {"ok": False, "error": "not-found"}
    async with services.db.system() as conn:
        left = (await conn.exec_driver_sql(
            "SELECT count(*) FROM memory_entries WHERE session_id = ANY($1)",
            (sids,))).scalar()
    assert left == 0
