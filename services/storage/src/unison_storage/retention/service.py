"""Retention: policies per data class and tenant (defaults from settings), and the
maintenance run that deletes (or, in a dry run, counts) what they expire.

A run holds a database-wide lock (`db.exclusive`), so one runs at a time across every
replica; a second is refused (409, or skipped by the schedule). It works in bounded
batches, each its own short system transaction: rows are locked only for one batch, and
a run that dies between batches has committed what it did, so the next run (any
replica) simply finds less to do. A batch also releases the payload objects its rows
referenced when nothing else references them (threads/payloads.py `release`); their
blobs go after the batch commits. The audit log is not a data class.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from prometheus_client import Counter

from unison_shared.auth import RequestContext
from unison_shared.database import Database, asyncpg_of
from unison_shared.errors import Conflict
from unison_shared.observability import Metrics

from ..threads.payloads import Payloads, PayloadTxn
from . import repository as repo
from .classes_repository import CLASSES, DataClass
from .schemas import ClassReport, Policies, Policy, Report

logger = logging.getLogger("unison.storage.retention")

LOCK = "storage-maintenance"
AfterBatch = Callable[[str, ClassReport], Awaitable[None]]


class RetentionService:
    def __init__(self, db: Database, payloads: Payloads, defaults: dict[str, int],
                 batch: int) -> None:
        self.db = db
        self.payloads = payloads
        self.defaults = {name: defaults.get(name, 365) for name in CLASSES}
        self.batch = batch

    async def policies(self, ctx: RequestContext) -> Policies:
        async with self.db.statement(ctx) as conn:
            own = await repo.tenant_policies(conn, ctx.tenant_id)
        return Policies(items=[
            Policy(data_class=name, days=own.get(name, default),
                   default_days=default, source="tenant" if name in own else "default")
            for name, default in self.defaults.items()])

    async def set_policies(self, ctx: RequestContext, changes: dict[str, int | None]) -> Policies:
        async with self.db.statement(ctx) as conn:
            await repo.set_policies(conn, ctx.tenant_id, changes)
        return await self.policies(ctx)

    async def run(self, dry_run: bool, classes: list[str] | None = None,
                  after_batch: AfterBatch | None = None) -> Report:
        started, t0 = datetime.now(UTC), time.perf_counter()
        async with self.db.exclusive(LOCK) as taken:
            if not taken:
                raise Conflict("another maintenance run is in progress")
            reports = {}
            for name in classes or list(CLASSES):
                cls = CLASSES[name]
                reports[name] = (await self._count(cls) if dry_run
                                 else await self._delete(cls, after_batch))
        return Report(dry_run=dry_run, started_at=started,
                      duration_ms=(time.perf_counter() - t0) * 1000, classes=reports)

    async def _count(self, cls: DataClass) -> ClassReport:
        async with self.db.system() as conn:
            pg = await asyncpg_of(conn)
            rows, size, objects, object_bytes = await pg.fetchrow(
                cls.count_sql(), cls.name, self.defaults[cls.name])
        return ClassReport(rows=rows, bytes=size, objects=objects, object_bytes=object_bytes)

    async def _delete(self, cls: DataClass, after_batch: AfterBatch | None) -> ClassReport:
        report = ClassReport()
        while True:
            t0 = time.perf_counter()
            txn = PayloadTxn()
            async with self.db.system() as conn:
                pg = await asyncpg_of(conn)
                rows = await pg.fetch(cls.batch_sql(), cls.name, self.defaults[cls.name],
                                      self.batch)
                refs: dict[str, set[str]] = defaultdict(set)
                for tenant, size, objs in rows:
                    report.bytes += size
                    refs[tenant].update(objs or ())
                for tenant, ids in sorted(refs.items()):
                    sizes = await repo.object_sizes(pg, tenant, ids)
                    await self.payloads.release(pg, txn, tenant, ids)
                    left = await repo.object_sizes(pg, tenant, ids)
                    freed = [size for oid, size in sizes.items() if oid not in left]
                    report.objects += len(freed)
                    report.object_bytes += sum(freed)
            await self.payloads.delete_blobs(txn.doomed)
            report.rows += len(rows)
            report.batches += 1
            report.longest_batch_ms = max(report.longest_batch_ms,
                                          (time.perf_counter() - t0) * 1000)
            if after_batch is not None:
                await after_batch(cls.name, report)
            if len(rows) < self.batch:
                return report


class MaintenanceMetrics:
    def __init__(self, metrics: Metrics) -> None:
        self.deleted = Counter("storage_retention_deleted_rows_total",
                               "Rows deleted by retention", ["data_class"],
                               registry=metrics.registry)
        self.runs = Counter("storage_retention_runs_total", "Scheduled maintenance runs",
                            ["outcome"], registry=metrics.registry)


async def run_schedule(service: RetentionService, interval: float,
                       metrics: MaintenanceMetrics) -> None:
    """The scheduled run: every replica tries each interval; the one that takes the lock
    runs, the others skip that round."""
    while True:
        await asyncio.sleep(interval)
        try:
            report = await service.run(dry_run=False)
        except Conflict:
            metrics.runs.labels("skipped").inc()
            continue
        except Exception as exc:  # retried next interval
            metrics.runs.labels("failed").inc()
            logger.warning("maintenance run failed: %s", type(exc).__name__)
            continue
        metrics.runs.labels("ok").inc()
        for name, r in report.classes.items():
            metrics.deleted.labels(name).inc(r.rows)
