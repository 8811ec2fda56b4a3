"""Repair of the two ways payloads and metadata rows can drift apart.

- A payload with no row (a crash between writing the payload and inserting the row, a
  failed payload delete, an abandoned temporary file): deleted once it is older than the
  grace period, so an upload in flight is never touched.
- A row whose payload is gone (lost disk, manual deletion): the row is deleted, and
  reported, since the object cannot be served any more.
- A multipart upload never completed (S3; a process that died mid-upload): aborted once
  it is older than the grace period, releasing the parts it holds.

Runs in system transactions: it crosses tenants by design. Memory stays bounded: payloads
are checked against the table in batches, rows are walked by keyset.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from ..database import Database
from . import repository, repository_sqlite
from .protocol import ObjectRepository
from .schemas import ReconcileReport
from .store import BlobInfo, ObjectStore

logger = logging.getLogger("unison.storage.objects.reconcile")

BATCH = 500
HEAD_CONCURRENCY = 8
MAX_REPORTED = 1000


def _repo(db: Database) -> ObjectRepository:
    return repository_sqlite if db.is_sqlite else repository


async def reconcile(db: Database, store: ObjectStore, dry_run: bool,
                    grace_seconds: float) -> ReconcileReport:
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
    await _rows(db, store, report)
    report.stale_uploads = await store.abort_stale_uploads(cutoff, dry_run)
    logger.info("objects reconciled", extra=report.model_dump(exclude={"missing"}))
    return report


async def _blob_batch(db: Database, store: ObjectStore, blobs: list[BlobInfo],
                      cutoff: datetime, report: ReconcileReport) -> None:
    report.blobs_scanned += len(blobs)
    async with db.system() as conn:
        known = await _repo(db).known_keys(conn, [b.key for b in blobs])
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
            if await _repo(db).known_keys(conn, [blob.key]):
                report.orphan_blobs -= 1
                continue
        await store.delete(blob.key)
        report.orphan_blobs_deleted += 1


async def _rows(db: Database, store: ObjectStore, report: ReconcileReport) -> None:
    after = ""
    gate = asyncio.Semaphore(HEAD_CONCURRENCY)

    async def missing(key: str) -> bool:
        async with gate:
            return await store.head(key) is None

    while True:
        async with db.system() as conn:
            rows = await _repo(db).rows_after(conn, after, BATCH)
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
            if not report.dry_run:
                async with db.system() as conn:
                    if await _repo(db).delete_by_key(conn, key):
                        report.rows_deleted += 1
        after = rows[-1][2]
