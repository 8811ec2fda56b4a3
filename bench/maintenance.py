"""Maintenance benchmark: `uv run python -m bench.maintenance [--spans N] [--batch B]`.

A fresh PostgreSQL (fsync on), migrated; N expired trace spans (30 days old, default
policy 7 days) over 10 tenants plus 10,000 fresh ones, inserted by the system role in
one statement per 100,000. Then the retention service of storage, in this process on
the runtime and system roles as the service runs it: a dry run, then the real run of
the `traces` class in batches of B. Prints (and writes bench/results/maintenance.json)
the dry run's time, the run's time, rows per second, batches and the longest batch,
and checks that exactly the fresh spans are left.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg

from unison_devstack.postgres import PostgresServer
from unison_devstack.procs import free_port

REPO_ROOT = Path(__file__).resolve().parents[1]
DATABASE = "storage_maintenance_bench"
CHUNK = 100_000
_INSERT = """
INSERT INTO trace_spans (tenant_id, person_id, trace_id, span_id, name, kind, component,
                         start_time, end_time, duration_ms, status, attributes)
SELECT 'h-bench-' || (i % 10), 'p', md5(i::text), substr(md5('s' || i), 1, 16), 'llm.call',
       'internal', 'agent', $2::timestamptz - make_interval(secs => i % 3600), $2, 12.5, 'ok',
       jsonb_build_object('gen_ai.request.model', 'gpt-bench', 'n', i)
FROM generate_series($1::bigint, $1::bigint + $3 - 1) AS i
"""


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def load(system_url: str, spans: int) -> float:
    conn = await asyncpg.connect(_dsn(system_url))
    t0 = time.perf_counter()
    try:
        old = await conn.fetchval("SELECT now() - interval '30 days'")
        for start in range(0, spans, CHUNK):
            await conn.execute(_INSERT, start, old, min(CHUNK, spans - start))
        await conn.execute(_INSERT, spans + 1, await conn.fetchval("SELECT now()"), 10_000)
        await conn.execute("ANALYZE trace_spans")
    finally:
        await conn.close()
    return time.perf_counter() - t0


async def measure(urls: dict[str, str], root: Path, batch: int) -> dict[str, Any]:
    from unison_shared.database import Database
    from unison_storage.objects.fs_store import FSObjectStore
    from unison_storage.retention.service import RetentionService
    from unison_storage.threads.payloads import Payloads

    db = await Database.open(urls["runtime"], 2, "bench-maintenance", urls["system"])
    try:
        service = RetentionService(db, Payloads(db, FSObjectStore(root / "objects")),
                                   {"traces": 7}, batch)
        t0 = time.perf_counter()
        dry = await service.run(dry_run=True, classes=["traces"])
        dry_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        real = await service.run(dry_run=False, classes=["traces"])
        run_s = time.perf_counter() - t0
        async with db.system() as conn:
            from sqlalchemy import text

            left = (await conn.execute(text("SELECT count(*) FROM trace_spans"))).scalar()
    finally:
        await db.close()
    r = real.classes["traces"]
    return {"dry_run_seconds": round(dry_s, 2), "dry_run_rows": dry.classes["traces"].rows,
            "run_seconds": round(run_s, 2), "rows_deleted": r.rows,
            "rows_per_second": round(r.rows / run_s), "batches": r.batches,
            "longest_batch_ms": round(r.longest_batch_ms, 1), "bytes": r.bytes,
            "rows_left": left}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-maintenance-"))
    pg = PostgresServer(root / "postgres", free_port(), fsync=True)
    try:
        pg.start()
        pg.ensure_roles()
        pg.ensure_database(DATABASE)
        urls = pg.urls(DATABASE)
        from unison_shared.migration_helpers import alembic_upgrade

        alembic_upgrade("storage", urls["owner"])
        load_s = asyncio.run(load(urls["system"], args.spans))
        result = {"args": vars(args), "load_seconds": round(load_s, 1),
                  **asyncio.run(measure(urls, root, args.batch))}
        print(json.dumps(result, indent=2))
        assert result["rows_left"] == 10_000, result
        out = REPO_ROOT / "bench" / "results" / "maintenance.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
