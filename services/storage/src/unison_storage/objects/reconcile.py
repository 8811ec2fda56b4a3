"""Repair of the two ways payloads and metadata rows can drift apart.

- A payload with no row (a crash between writing the payload and inserting the row, a
  failed payload delete, an abandoned temporary file): deleted once it is older than the
  grace period, so an upload in flight is never touched.
- A row whose payload is gone (lost disk, manual deletion): the row is deleted, and
  reported, since the object cannot be served any more.
- A multipart upload never completed (S3; a process that died mid-upload): aborted once
  it is older than the grace period, releasing the parts it holds.

Runs in system transactions: it crosses tenants by design. Memory stays bounded: payloads
are checked against the table in batches, rows are walked by keyset. One run at a time
across every process (a database lock): a second one is refused with `ReconcileBusy`.
`run_schedule` runs it every `STORAGE_RECONCILE_INTERVAL_SECONDS` when that is set.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from prometheus_client import Counter, Gauge

from unison_shared.database import Database
from unison_shared.errors import Conflict
from unison_shared.observability import Metrics

from ..settings import StorageOptions
from . import repository
from .schemas import ReconcileReport
from .store import BlobInfo, ObjectStore

logger = logging.getLogger("unison.storage.objects.reconcile")

BATCH = 500
HEAD_CONCURRENCY = 8
MAX_REPORTED = 1000
LOCK_NAME = "unison:objects-reconcile"


class ReconcileBusy(Conflict):
    """Another process is reconciling the objects right now."""


async def reconcile(db: Database, store: ObjectStore, dry_run: bool,
                    grace_seconds: float, repair_rows: bool = True) -> ReconcileReport:
    """Find and (unless dry_run) repair both kinds of drift; rows whose payload is gone
    are deleted only with `repair_rows`. Raises ReconcileBusy when another run holds
    the lock."""
    async with db.exclusive(LOCK_NAME) as taken:
        if not taken:
            raise ReconcileBusy("another reconcile of the objects is running; try later")
        return await _reconcile(db, store, dry_run, grace_seconds, repair_rows)


async def _reconcile(db: Database, store: ObjectStore, dry_run: bool,
                     grace_seconds: float, repair_rows: bool) -> ReconcileReport:
    report = ReconcileReport(dry_run=dry_run)
    # Blobs written before this instant and still without a row are orphans.
    cutoff = datetime.now(UTC) - timedelta(seconds=grace_seconds)
    batch: list[BlobInfo] = []
    async for blob in store.list_keys():
        batch.append(blob)
        if len(batch) >= BATCH:
            await _blob_batch(db, store, batch, cutoff, report)
            batch = []
    if batch:
        await _blob_batch(db, store, batch, cutoff, report)
    await _rows(db, store, report, repair_rows)
    report.stale_uploads = await store.abort_stale_uploads(cutoff, dry_run)
    logger.info("objects reconciled", extra=report.model_dump(exclude={"missing"}))
    return report


async def _blob_batch(db: Database, store: ObjectStore, blobs: list[BlobInfo],
                      cutoff: datetime, report: ReconcileReport) -> None:
    report.blobs_scanned += len(blobs)
    async with db.system() as conn:
        known = await repository.known_keys(conn, [b.key for b in blobs])
    for blob in blobs:
        if blob.key in known:
            continue
        report.orphan_blobs += 1
        if blob.modified_at > cutoff:
            report.orphan_blobs_in_grace += 1
            continue
        if report.dry_run:
            continue
        # Re-check just before deleting: a row may have landed since the batch query.
        async with db.system() as conn:
            if await repository.known_keys(conn, [blob.key]):
                report.orphan_blobs -= 1
                continue
        await store.delete(blob.key)
        report.orphan_blobs_deleted += 1


async def _rows(db: Database, store: ObjectStore, report: ReconcileReport,
                repair: bool) -> None:
    after = ""
    gate = asyncio.Semaphore(HEAD_CONCURRENCY)

    async def missing(key: str) -> bool:
        async with gate:
            return await store.head(key) is None

    while True:
        async with db.system() as conn:
            rows = await repository.rows_after(conn, after, BATCH)
        if not rows:
            return
        report.rows_scanned += len(rows)
        gone = await asyncio.gather(*(missing(key) for _, _, key in rows))
        for (tenant, object_id, key), is_gone in zip(rows, gone, strict=True):
            if not is_gone:
                continue
            report.rows_missing_blob += 1
            if len(report.missing) < MAX_REPORTED:
                report.missing.append(f"{tenant}/{object_id}")
            if repair and not report.dry_run:
                async with db.system() as conn:
                    if await repository.delete_by_key(conn, key):
                        report.rows_deleted += 1
        after = rows[-1][2]


class ReconcileMetrics:
    """What an operator alerts on: runs by outcome, what they repaired, rows whose
    payload is missing (not repaired by default: someone should look), and the time of
    the last successful run."""

    def __init__(self, metrics: Metrics) -> None:
        self.runs = Counter("storage_reconcile_runs_total", "Scheduled object reconciles",
                            ["outcome"], registry=metrics.registry)
        self.orphans_deleted = Counter("storage_reconcile_orphan_blobs_deleted_total",
                                       "Payloads without a row deleted by reconcile",
                                       registry=metrics.registry)
        self.rows_missing = Gauge("storage_reconcile_rows_missing_blob",
                                  "Rows whose payload was missing at the last run",
                                  registry=metrics.registry)
        self.last_success = Gauge("storage_reconcile_last_success_timestamp_seconds",
                                  "Unix time of the last successful reconcile",
                                  registry=metrics.registry)


async def run_schedule(db: Database, store: ObjectStore, options: StorageOptions,
                       metrics: ReconcileMetrics) -> None:
    """Reconcile every `reconcile_interval_seconds`; a run another replica holds is
    skipped, a failed one retried at the next interval."""
    while True:
        await asyncio.sleep(options.reconcile_interval_seconds)
        try:
            report = await reconcile(db, store, dry_run=False,
                                     grace_seconds=options.reconcile_grace_seconds,
                                     repair_rows=options.reconcile_repair_rows)
        except ReconcileBusy:
            metrics.runs.labels("skipped").inc()
            continue
        except Exception as exc:  # retried next interval; the type only, never content
            metrics.runs.labels("failed").inc()
            logger.warning("scheduled reconcile failed: %s", type(exc).__name__)
            continue
        metrics.runs.labels("ok").inc()
        metrics.orphans_deleted.inc(report.orphan_blobs_deleted)
        metrics.rows_missing.set(report.rows_missing_blob)
        metrics.last_success.set_to_current_time()
        if report.rows_missing_blob and not options.reconcile_repair_rows:
            logger.warning("object rows whose payload is missing (not repaired; "
                           "unison-storage reconcile-objects repairs them)",
                           extra={"rows": report.rows_missing_blob})
