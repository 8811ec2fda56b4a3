"""The background pass that fires workflow timers and timeouts (system role).

Every replica runs it; `FOR UPDATE SKIP LOCKED` keeps replicas from firing the same
condition or timeout twice, and a batch is one short transaction, so a replica that
dies mid-pass leaves the rest to the next pass of any replica.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from prometheus_client import Counter

from unison_shared.database import Database
from unison_shared.observability import Metrics

from . import repository as repo

logger = logging.getLogger("unison.storage.workflows")


@dataclass
class Fired:
    timers: int = 0
    timeouts: int = 0


async def fire_once(db: Database, batch: int) -> Fired:
    """Fire everything due now, in batches; counts of what this call fired."""
    fired = Fired()
    while True:
        async with db.system() as conn:
            timers = await repo.fire_timers(conn, batch)
        fired.timers += timers
        if timers < batch:
            break
    while True:
        async with db.system() as conn:
            timeouts = await repo.fire_timeouts(conn, batch)
        fired.timeouts += timeouts
        if timeouts < batch:
            break
    return fired


class TimerMetrics:
    def __init__(self, metrics: Metrics) -> None:
        self.fired = Counter("storage_workflow_timers_fired_total",
                             "Workflow timer conditions and timeouts fired", ["kind"],
                             registry=metrics.registry)
        self.failures = Counter("storage_workflow_timer_failures_total",
                                "Workflow timer passes that failed", registry=metrics.registry)


async def run_timers(db: Database, interval: float, batch: int,
                     metrics: TimerMetrics) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            fired = await fire_once(db, batch)
        except Exception as exc:  # retried next interval
            metrics.failures.inc()
            logger.warning("workflow timer pass failed: %s", type(exc).__name__)
            continue
        metrics.fired.labels("timer").inc(fired.timers)
        metrics.fired.labels("timeout").inc(fired.timeouts)
