"""Prometheus gauges of rows and bytes per data class, for the whole database.

Read from PostgreSQL's catalogue (`reltuples`, the planner's row estimate kept by
autovacuum, and `pg_total_relation_size`), so refreshing them costs no scan however
large the tables grow; exact per-tenant counts are `GET /v1/statistics`.
"""

from __future__ import annotations

import asyncio
import logging

from prometheus_client import Gauge
from sqlalchemy import text

from unison_shared.database import Database
from unison_shared.observability import Metrics

from .repository import TABLES

logger = logging.getLogger("unison.storage.statistics")

_SIZES = text("SELECT c.relname, GREATEST(c.reltuples, 0)::bigint, "
              "pg_total_relation_size(c.oid) FROM pg_class c "
              "JOIN pg_namespace n ON n.oid = c.relnamespace "
              "WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname = ANY(:tables)")


class TableGauges:
    def __init__(self, metrics: Metrics) -> None:
        self.rows = Gauge("storage_rows_estimate", "Rows per data class (planner estimate)",
                          ["data_class"], registry=metrics.registry)
        self.bytes = Gauge("storage_table_bytes", "Bytes per data class (table, indexes "
                           "and TOAST)", ["data_class"], registry=metrics.registry)


async def refresh(db: Database, gauges: TableGauges) -> None:
    by_table = {table: name for name, table, _ in TABLES}
    async with db.system() as conn:
        rows = (await conn.execute(_SIZES, {"tables": list(by_table)})).all()
    for table, count, size in rows:
        gauges.rows.labels(by_table[table]).set(count)
        gauges.bytes.labels(by_table[table]).set(size)


async def run_gauges(db: Database, interval: float, gauges: TableGauges) -> None:
    while True:
        try:
            await refresh(db, gauges)
        except Exception as exc:  # tried again next interval
            logger.warning("table gauges failed: %s", type(exc).__name__)
        await asyncio.sleep(interval)
