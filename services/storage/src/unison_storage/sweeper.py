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

from sqlalchemy.ext.asyncio import AsyncConnection

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


async def run_sweeper(services: Services, options: StorageOptions) -> None:
    while True:
        await asyncio.sleep(options.sweep_interval_seconds)
        try:
            totals = await sweep_once(services, options.sweep_batch_size)
            if any(totals.values()):
                logger.info("swept expired rows", extra={"deleted": totals})
        except Exception as exc:  # a failed sweep is retried next interval
            logger.warning("sweep failed: %s", type(exc).__name__)
