"""SQL for eval_datasets, eval_items, eval_runs and eval_scores (tenant-scoped rows)."""

from __future__ import annotations

from datetime import datetime

import asyncpg

_DATASET = ("id, name, version, description, metadata, frozen, item_count, created_by, "
            "created_at")
_RUN = ("id, dataset_id, model_name, config, status, summary, created_by, started_at, "
        "completed_at")


async def insert_dataset(conn: asyncpg.Connection, tenant: str, dataset_id: str, name: str,
                         version: int | None, description: str | None, metadata: str,
                         person: str) -> asyncpg.Record | None:
    """None when (name, version) exists. Without a version: one above the newest."""
    return await conn.fetchrow(
        "INSERT INTO eval_datasets (tenant_id, id, name, version, description, metadata, "
        "created_by) VALUES ($1, $2, $3, coalesce($4, (SELECT coalesce(max(version), 0) + 1 "
        "FROM eval_datasets WHERE tenant_id = $1 AND name = $3)), $5, $6::jsonb, $7) "
        f"ON CONFLICT (tenant_id, name, version) DO NOTHING RETURNING {_DATASET}",
        tenant, dataset_id, name, version, description, metadata, person)


async def get_dataset(conn: asyncpg.Connection, tenant: str, dataset_id: str,
                      lock: bool = False) -> asyncpg.Record | None:
    suffix = " FOR UPDATE" if lock else ""
    return await conn.fetchrow(f"SELECT {_DATASET} FROM eval_datasets WHERE tenant_id = $1 "
                               f"AND id = $2{suffix}", tenant, dataset_id)


async def list_datasets(conn: asyncpg.Connection, tenant: str, name: str | None,
                        after: tuple[str, int] | None, limit: int) -> list[asyncpg.Record]:
    return list(await conn.fetch(
        f"SELECT {_DATASET} FROM eval_datasets WHERE tenant_id = $1 "
        "AND ($2::text IS NULL OR name = $2) "
        "AND ($3::text IS NULL OR (name, version) > ($3, $4::integer)) "
        "ORDER BY name, version LIMIT $5", tenant, name, after[0] if after else None,
        after[1] if after else None, limit))


async def add_items(conn: asyncpg.Connection, tenant: str, dataset_id: str, first_seq: int,
                    ids: list[str], inputs: list[str], expected: list[str | None],
                    metadata: list[str]) -> int:
    """Append items in one statement; an id already in the dataset is skipped."""
    result = await conn.execute(
        "INSERT INTO eval_items (tenant_id, dataset_id, id, seq, input, expected, metadata) "
        "SELECT $1, $2, i.id, $3 + i.n - 1, i.input::jsonb, i.expected::jsonb, "
        "i.metadata::jsonb FROM unnest($4::text[], $5::text[], $6::text[], $7::text[]) "
        "WITH ORDINALITY AS i(id, input, expected, metadata, n) "
        "ON CONFLICT (tenant_id, dataset_id, id) DO NOTHING",
        tenant, dataset_id, first_seq, ids, inputs, expected, metadata)
    added = int(result.rsplit(" ", 1)[-1])
    await conn.execute("UPDATE eval_datasets SET item_count = item_count + $3 "
                       "WHERE tenant_id = $1 AND id = $2", tenant, dataset_id, added)
    return added


async def next_seq(conn: asyncpg.Connection, tenant: str, dataset_id: str) -> int:
    value = await conn.fetchval("SELECT coalesce(max(seq), 0) + 1 FROM eval_items "
                                "WHERE tenant_id = $1 AND dataset_id = $2", tenant, dataset_id)
    return int(value)


async def list_items(conn: asyncpg.Connection, tenant: str, dataset_id: str, after_seq: int,
                     limit: int) -> list[asyncpg.Record]:
    return list(await conn.fetch(
        "SELECT id, seq, input, expected, metadata FROM eval_items WHERE tenant_id = $1 "
        "AND dataset_id = $2 AND seq > $3 ORDER BY seq LIMIT $4",
        tenant, dataset_id, after_seq, limit))


async def insert_run(conn: asyncpg.Connection, tenant: str, run_id: str, dataset_id: str,
                     model: str, config: str, person: str) -> asyncpg.Record:
    await conn.execute("UPDATE eval_datasets SET frozen = true WHERE tenant_id = $1 "
                       "AND id = $2 AND NOT frozen", tenant, dataset_id)
    row = await conn.fetchrow(
        "INSERT INTO eval_runs (tenant_id, id, dataset_id, model_name, config, created_by) "
        f"VALUES ($1, $2, $3, $4, $5::jsonb, $6) RETURNING {_RUN}",
        tenant, run_id, dataset_id, model, config, person)
    assert row is not None
    return row


async def get_run(conn: asyncpg.Connection, tenant: str, run_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {_RUN} FROM eval_runs WHERE tenant_id = $1 "
                               "AND id = $2", tenant, run_id)


async def update_run(conn: asyncpg.Connection, tenant: str, run_id: str, status: str | None,
                     summary: str | None) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "UPDATE eval_runs SET status = coalesce($3, status), "
        "summary = coalesce($4::jsonb, summary), completed_at = CASE WHEN $3 IN "
        "('completed', 'failed') THEN coalesce(completed_at, now()) ELSE completed_at END "
        f"WHERE tenant_id = $1 AND id = $2 RETURNING {_RUN}", tenant, run_id, status, summary)


async def list_runs(conn: asyncpg.Connection, tenant: str, dataset_id: str | None,
                    after: tuple[datetime, str] | None, limit: int) -> list[asyncpg.Record]:
    return list(await conn.fetch(
        f"SELECT {_RUN} FROM eval_runs WHERE tenant_id = $1 "
        "AND ($2::text IS NULL OR dataset_id = $2) "
        "AND ($3::timestamptz IS NULL OR (started_at, id) < ($3, $4::text)) "
        "ORDER BY started_at DESC, id DESC LIMIT $5", tenant, dataset_id,
        after[0] if after else None, after[1] if after else None, limit))


async def upsert_scores(conn: asyncpg.Connection, tenant: str, run_id: str, dataset_id: str,
                        items: list[str], metrics: list[str], values: list[float],
                        reasons: list[str | None], scorers: list[str]) -> tuple[int, int]:
    """(stored, unknown items): scores of items that are not in the run's dataset are
    not stored."""
    known = await conn.fetchval(
        "SELECT count(DISTINCT i) FROM unnest($3::text[]) AS i WHERE EXISTS (SELECT 1 FROM "
        "eval_items e WHERE e.tenant_id = $1 AND e.dataset_id = $2 AND e.id = i)",
        tenant, dataset_id, items)
    result = await conn.execute(
        "INSERT INTO eval_scores (tenant_id, run_id, item_id, metric, value, reason, scorer) "
        "SELECT $1, $2, s.item, s.metric, s.value, s.reason, s.scorer FROM unnest("
        "$4::text[], $5::text[], $6::float8[], $7::text[], $8::text[]) "
        "AS s(item, metric, value, reason, scorer) WHERE EXISTS (SELECT 1 FROM eval_items e "
        "WHERE e.tenant_id = $1 AND e.dataset_id = $3 AND e.id = s.item) "
        "ON CONFLICT (tenant_id, run_id, item_id, metric, scorer) DO UPDATE "
        "SET value = EXCLUDED.value, reason = EXCLUDED.reason, created_at = now()",
        tenant, run_id, dataset_id, items, metrics, values, reasons, scorers)
    return int(result.rsplit(" ", 1)[-1]), len(set(items)) - int(known)


async def summary(conn: asyncpg.Connection, tenant: str, run_id: str) -> list[asyncpg.Record]:
    return list(await conn.fetch(
        "SELECT metric, count(*), avg(value), min(value), max(value), "
        "percentile_cont(0.5) WITHIN GROUP (ORDER BY value), "
        "percentile_cont(0.95) WITHIN GROUP (ORDER BY value) "
        "FROM eval_scores WHERE tenant_id = $1 AND run_id = $2 GROUP BY metric "
        "ORDER BY metric", tenant, run_id))


async def compare(conn: asyncpg.Connection, tenant: str, run_a: str,
                  run_b: str) -> list[asyncpg.Record]:
    """Per metric, over the items both runs scored (scores averaged per item first)."""
    return list(await conn.fetch(
        "WITH a AS (SELECT item_id, metric, avg(value) AS v FROM eval_scores "
        "WHERE tenant_id = $1 AND run_id = $2 GROUP BY item_id, metric), "
        "b AS (SELECT item_id, metric, avg(value) AS v FROM eval_scores "
        "WHERE tenant_id = $1 AND run_id = $3 GROUP BY item_id, metric) "
        "SELECT a.metric, count(*), avg(a.v), avg(b.v), "
        "count(*) FILTER (WHERE b.v > a.v), count(*) FILTER (WHERE a.v > b.v), "
        "count(*) FILTER (WHERE a.v = b.v) "
        "FROM a JOIN b USING (item_id, metric) GROUP BY a.metric ORDER BY a.metric",
        tenant, run_a, run_b))
