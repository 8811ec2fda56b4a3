"""SQL for kv_records. An expired record is invisible to every read here, whether or not
the sweeper has deleted it yet.

KV is the platform's hottest path, so its statements run on the asyncpg connection
directly (prepared and cached by asyncpg) rather than through SQLAlchemy's execution
layer, which costs several times more CPU per statement (docs/performance.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True)
class KVRow:
    namespace: str
    key: str
    value: Any
    value_enc: bytes | None
    dek_version: int | None
    version: int
    expires_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True)
class KVWrite:
    value_json: str | None
    value_enc: bytes | None
    dek_version: int | None
    ttl_seconds: int | None


def _row(record: asyncpg.Record) -> KVRow:
    # jsonb arrives decoded: the engine's connections carry a jsonb codec (shared.db).
    return KVRow(*record.values())


_COLS = "namespace, key, value, value_enc, dek_version, version, expires_at, updated_at"
_LIVE = "(expires_at IS NULL OR expires_at > now())"
# $1 tenant, $2 person, $3 namespace, $4 key in every statement below.
_SCOPE = "tenant_id = $1 AND person_id = $2 AND namespace = $3"
_EXPIRY = "CASE WHEN $8::integer IS NULL THEN NULL ELSE now() + make_interval(secs => $8) END"
_UPSERT = f"""
    INSERT INTO kv_records AS cur
        (tenant_id, person_id, namespace, key, value, value_enc, dek_version, version, expires_at)
    VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, 1, {_EXPIRY})
    ON CONFLICT (tenant_id, person_id, namespace, key) DO UPDATE SET
        value = EXCLUDED.value, value_enc = EXCLUDED.value_enc,
        dek_version = EXCLUDED.dek_version, expires_at = EXCLUDED.expires_at,
        version = CASE WHEN cur.expires_at IS NOT NULL AND cur.expires_at <= now()
                       THEN 1 ELSE cur.version + 1 END,
        updated_at = now()"""
_PUT = f"{_UPSERT} RETURNING {_COLS}"
_PUT_IF_ABSENT = (f"{_UPSERT} WHERE cur.expires_at IS NOT NULL AND cur.expires_at <= now() "
                  f"RETURNING {_COLS}")
_PUT_IF_VERSION = f"""
    UPDATE kv_records SET value = $5::jsonb, value_enc = $6, dek_version = $7,
        expires_at = {_EXPIRY}, version = version + 1, updated_at = now()
    WHERE {_SCOPE} AND key = $4 AND version = $9 AND {_LIVE}
    RETURNING {_COLS}"""
_GET = f"SELECT {_COLS} FROM kv_records WHERE {_SCOPE} AND key = $4 AND {_LIVE}"
_DELETE = (f"DELETE FROM kv_records WHERE {_SCOPE} AND key = $4 AND {_LIVE} "
           "AND ($5::bigint IS NULL OR version = $5) RETURNING 1")
_LIST = (f"SELECT {_COLS} FROM kv_records WHERE {_SCOPE} AND {_LIVE} "
         "AND key > $4 AND starts_with(key, $5) ORDER BY key LIMIT $6")


def _args(tenant: str, person: str, ns: str, key: str, w: KVWrite) -> tuple[Any, ...]:
    return (tenant, person, ns, key, w.value_json, w.value_enc, w.dek_version, w.ttl_seconds)


async def get(pg: asyncpg.Connection, tenant: str, person: str, ns: str,
              key: str) -> KVRow | None:
    record = await pg.fetchrow(_GET, tenant, person, ns, key)
    return _row(record) if record else None


async def put(pg: asyncpg.Connection, tenant: str, person: str, ns: str, key: str,
              w: KVWrite) -> KVRow:
    """Unconditional write (an expired record counts as absent: its version restarts)."""
    return _row(await pg.fetchrow(_PUT, *_args(tenant, person, ns, key, w)))


async def put_if_absent(pg: asyncpg.Connection, tenant: str, person: str, ns: str, key: str,
                        w: KVWrite) -> KVRow | None:
    """Create only; None when a live record exists."""
    record = await pg.fetchrow(_PUT_IF_ABSENT, *_args(tenant, person, ns, key, w))
    return _row(record) if record else None


async def put_if_version(pg: asyncpg.Connection, tenant: str, person: str, ns: str, key: str,
                         w: KVWrite, expected_version: int) -> KVRow | None:
    """Check-and-set: one UPDATE, so of two writers expecting the same version (on any
    replica) the row lock lets exactly one win. None when the version does not match."""
    record = await pg.fetchrow(_PUT_IF_VERSION, *_args(tenant, person, ns, key, w),
                               expected_version)
    return _row(record) if record else None


async def delete(pg: asyncpg.Connection, tenant: str, person: str, ns: str, key: str,
                 expected_version: int | None) -> bool:
    return await pg.fetchval(_DELETE, tenant, person, ns, key, expected_version) is not None


async def list_keys(pg: asyncpg.Connection, tenant: str, person: str, ns: str, prefix: str,
                    after: str, limit: int) -> list[KVRow]:
    records = await pg.fetch(_LIST, tenant, person, ns, after, prefix, limit)
    return [_row(r) for r in records]


async def sweep_expired(conn: AsyncConnection, batch: int) -> int:
    """Run by the sweeper in a system transaction (SQLAlchemy, off the hot path)."""
    # A MATERIALIZED CTE joined once, so one statement deletes at most one batch (an
    # `IN (subquery)` may be rescanned, deleting several).
    result = await conn.execute(text(
        "WITH doomed AS MATERIALIZED (SELECT ctid AS row_id FROM kv_records "
        "WHERE expires_at <= now() LIMIT :b FOR UPDATE SKIP LOCKED) "
        "DELETE FROM kv_records k USING doomed WHERE k.ctid = doomed.row_id"), {"b": batch})
    return int(result.rowcount or 0)
