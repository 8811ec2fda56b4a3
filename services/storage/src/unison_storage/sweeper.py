"""Background deletion of expired rows, in batches.

Every replica runs it; `FOR UPDATE SKIP LOCKED` lets replicas sweep at once without
blocking each other or deleting a row twice. Reads never depend on it: expired rows are
filtered on read.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from prometheus_client import Counter, Gauge
from sqlalchemy.ext.asyncio import AsyncConnection

from unison_shared.observability import Metrics

from .kv import repository as kv_repo
from .memory import repository as memory_repo
from .settings import StorageOptions

if TYPE_CHECKING:
    from .wiring import Services

logger = logging.getLogger("unison.storage.sweeper")

SweepFn = Callable[[AsyncConnection, int], Awaitable[int]]
SWEEPS: dict[str, SweepFn] = {
    "kv_records": kv_repo.sweep_expired,
    "memory_entries": memory_repo.sweep_expired,
}


async def sweep_once(services: Services, batch: int) -> dict[str, int]:
    """Delete expired rows until each table has none left; returns counts per table."""
    totals: dict[str, int] = {}
    for table, sweep in SWEEPS.items():
        total = 0
        while True:
            async with services.db.system() as conn:
                deleted = await sweep(conn, batch)
            total += deleted
            if deleted < batch:
                break
        totals[table] = total
    return totals


class SweepMetrics:
    """What an operator alerts on: rows deleted, failures, and the time of the last
    successful sweep (stale means expired rows pile up, though reads still hide them)."""

    def __init__(self, metrics: Metrics) -> None:
        self.deleted = Counter("storage_sweeper_deleted_rows_total",
                               "Expired rows deleted by the sweeper", ["table"],
                               registry=metrics.registry)
        self.failures = Counter("storage_sweeper_failures_total", "Sweeps that failed",
                                registry=metrics.registry)
        self.last_success = Gauge("storage_sweeper_last_success_timestamp_seconds",
                                  "Unix time of the last successful sweep",
                                  registry=metrics.registry)


async def run_sweeper(services: Services, options: StorageOptions,
                      metrics: SweepMetrics) -> None:
    while True:
        await asyncio.sleep(options.sweep_interval_seconds)
        try:
            totals = await sweep_once(services, options.sweep_batch_size)
        except Exception as exc:  # a failed sweep is retried next interval
            metrics.failures.inc()
            logger.warning("sweep failed: %s", type(exc).__name__)
            continue
        for table, count in totals.items():
            metrics.deleted.labels(table).inc(count)
        metrics.last_success.set_to_current_time()
        if any(totals.values()):
            logger.info("swept expired rows", extra={"deleted": totals})
