"""Scheduled object reconcile: it deletes an orphan payload by itself, reports (and by
default keeps) a row whose payload is gone, one run at a time across processes, and its
metrics say what happened."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from unison_storage.main import create_app
from unison_storage.objects.reconcile import LOCK_NAME, ReconcileBusy, reconcile

from .conftest import running_client


def _orphan(root: Path, tenant: str, age_seconds: float) -> Path:
    blob = root / tenant / "ab" / uuid.uuid4().hex
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(b"no row points here")
    then = time.time() - age_seconds
    os.utime(blob, (then, then))
    return blob


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in /metrics")


async def test_schedule_deletes_orphans_and_reports_missing_rows(storage_settings_factory,
                                                                 make_caller, tmp_path):
    # A store of its own: the run walks every row of the shared test database, and rows
    # of other tests have no payload here, so they are reported (never repaired: the
    # default) and nothing of theirs changes.
    settings = storage_settings_factory()
    settings.storage.object_fs_root = tmp_path / "objects"
    settings.storage.reconcile_interval_seconds = 0.3
    settings.storage.reconcile_grace_seconds = 60
    caller = make_caller()
    app = create_app(settings)
    async with running_client(app) as client:
        old = _orphan(settings.storage.object_fs_root, caller.household_id, 3600)
        young = _orphan(settings.storage.object_fs_root, caller.household_id, 0)
        r = await client.post("/v1/objects", content=b"payload soon lost",
                              headers=caller.headers)
        assert r.status_code == 201, r.text
        lost = r.json()["id"]
        payloads = [p for p in (settings.storage.object_fs_root / caller.household_id).rglob("*")
                    if p.is_file() and p not in (old, young)]
        assert len(payloads) == 1
        payloads[0].unlink()

        deadline = time.monotonic() + 20
        while old.exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert not old.exists(), "the scheduled run did not delete the old orphan"
        assert young.exists(), "a payload inside the grace period (an upload) was touched"
        # Give the run that deleted it time to publish its metrics.
        for _ in range(50):
            metrics = (await client.get("/metrics")).text
            if "storage_reconcile_last_success_timestamp_seconds" in metrics and \
                    _metric(metrics, "storage_reconcile_last_success_timestamp_seconds") > 0:
                break
            await asyncio.sleep(0.1)
        assert _metric(metrics, "storage_reconcile_orphan_blobs_deleted_total") >= 1
        assert _metric(metrics, "storage_reconcile_rows_missing_blob") >= 1
        # Not repaired by default: the row is still listed, its payload answers 404.
        listed = (await client.get("/v1/objects", headers=caller.headers)).json()["items"]
        assert lost in [item["id"] for item in listed]


async def test_one_reconcile_at_a_time(storage_app, storage_env):
    svc = storage_app.state.services.objects
    async with svc.db.exclusive(LOCK_NAME) as taken:
        assert taken
        with pytest.raises(ReconcileBusy):
            await reconcile(svc.db, svc.store, dry_run=True, grace_seconds=3600)
        # Another process (the CLI) is refused with a clear message, not a traceback.
        proc = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "unison_storage.cli", "reconcile-objects",
                             "--dry-run"], env={**os.environ, **storage_env},
            capture_output=True, text=True, timeout=60)
        assert proc.returncode == 1
        assert "another reconcile" in proc.stderr and "Traceback" not in proc.stderr
    report = await reconcile(svc.db, svc.store, dry_run=True, grace_seconds=3600)
    assert report.dry_run is True
