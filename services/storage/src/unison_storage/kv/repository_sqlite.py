"""SQL for kv_records on SQLite (development only): the same functions and meaning as
`repository` (PostgreSQL). Every statement names tenant AND person AND namespace: with no
row-level security on SQLite, that filter is the only tenant fence. An expired record is
invisible to every read, whether or not the sweeper has deleted it yet; "now" comes from
Python. Each call runs inside the transaction `Database.statement` opened.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from ..database import StatementConnection, sqlite_connection
from ..sqlite_values import loads_opt, now, parse_ts, parse_ts_opt, ts
from .repository import KVRow, KVWrite

_COLS = "namespace, key, value, value_enc, dek_version, version, expires_at, updated_at"
_LIVE = "(expires_at IS NULL OR expires_at > :now)"
_SCOPE = "tenant_id = :t AND person_id = :p AND namespace = :ns"
_UPSERT = """
    INSERT INTO kv_records (tenant_id, person_id, namespace, key, value, value_enc,
                            dek_version, version, expires_at, created_at, updated_at)
    VALUES (:t, :p, :ns, :k, :value, :enc, :dek, 1, :exp, :now, :now)
    ON CONFLICT (tenant_id, person_id, namespace, key) DO UPDATE SET
        value = excluded.value, value_enc = excluded.value_enc,
        dek_version = excluded.dek_version, expires_at = excluded.expires_at,
        version = CASE WHEN kv_records.expires_at IS NOT NULL
                            AND kv_records.expires_at <= :now
                       THEN 1 ELSE kv_records.version + 1 END,
        updated_at = :now"""
_PUT = text(f"{_UPSERT} RETURNING {_COLS}")
_PUT_IF_ABSENT = text(f"{_UPSERT} WHERE kv_records.expires_at IS NOT NULL "
                      f"AND kv_records.expires_at <= :now RETURNING {_COLS}")
_PUT_IF_VERSION = text(f"""
    UPDATE kv_records SET value = :value, value_enc = :enc, dek_version = :dek,
        expires_at = :exp, version = version + 1, updated_at = :now
    WHERE {_SCOPE} AND key = :k AND version = :expected AND {_LIVE}
    RETURNING {_COLS}""")
_GET = text(f"SELECT {_COLS} FROM kv_records WHERE {_SCOPE} AND key = :k AND {_LIVE}")
_DELETE = text(f"DELETE FROM kv_records WHERE {_SCOPE} AND key = :k AND {_LIVE} "
               "AND (:expected IS NULL OR version = :expected) RETURNING 1")
_LIST = text(f"SELECT {_COLS} FROM kv_records WHERE {_SCOPE} AND {_LIVE} AND key > :after "
             "AND substr(key, 1, length(:prefix)) = :prefix ORDER BY key LIMIT :lim")
_SWEEP = text("DELETE FROM kv_records WHERE rowid IN (SELECT rowid FROM kv_records "
              "WHERE expires_at <= :now LIMIT :b)")


def _row(r: Sequence[Any]) -> KVRow:
    return KVRow(namespace=r[0], key=r[1], value=loads_opt(r[2]), value_enc=r[3],
                 dek_version=r[4], version=int(r[5]), expires_at=parse_ts_opt(r[6]),
                 updated_at=parse_ts(r[7]))


def _scope(tenant: str, person: str, ns: str, key: str, at: datetime) -> dict[str, Any]:
    return {"t": tenant, "p": person, "ns": ns, "k": key, "now": ts(at)}


def _write(conn: AsyncConnection, tenant: str, person: str, ns: str, key: str,
           w: KVWrite) -> dict[str, Any]:
    at = now(conn)
    expires = ts(at + timedelta(seconds=w.ttl_seconds)) if w.ttl_seconds is not None else None
    return {**_scope(tenant, person, ns, key, at), "value": w.value_json,
            "enc": w.value_enc, "dek": w.dek_version, "exp": expires}


async def get(pg: StatementConnection, tenant: str, person: str, ns: str,
              key: str) -> KVRow | None:
    conn = sqlite_connection(pg)
    r = (await conn.execute(_GET, _scope(tenant, person, ns, key, now(conn)))).first()
    return _row(r) if r else None


async def put(pg: StatementConnection, tenant: str, person: str, ns: str, key: str,
              w: KVWrite) -> KVRow:
    """Unconditional write (an expired record counts as absent: its version restarts)."""
    conn = sqlite_connection(pg)
    return _row((await conn.execute(_PUT, _write(conn, tenant, person, ns, key, w))).one())


async def put_if_absent(pg: StatementConnection, tenant: str, person: str, ns: str, key: str,
                        w: KVWrite) -> KVRow | None:
    """Create only; None when a live record exists."""
    conn = sqlite_connection(pg)
    r = (await conn.execute(_PUT_IF_ABSENT, _write(conn, tenant, person, ns, key, w))).first()
    return _row(r) if r else None


async def put_if_version(pg: StatementConnection, tenant: str, person: str, ns: str, key: str,
                         w: KVWrite, expected_version: int) -> KVRow | None:
    """Check-and-set: writers are serialised by SQLite's write lock (BEGIN IMMEDIATE), so
    of two expecting the same version exactly one matches. None on a mismatch."""
    conn = sqlite_connection(pg)
    r = (await conn.execute(_PUT_IF_VERSION, {**_write(conn, tenant, person, ns, key, w),
                                              "expected": expected_version})).first()
    return _row(r) if r else None


async def delete(pg: StatementConnection, tenant: str, person: str, ns: str, key: str,
                 expected_version: int | None) -> bool:
    conn = sqlite_connection(pg)
    r = (await conn.execute(_DELETE, {**_scope(tenant, person, ns, key, now(conn)),
                                      "expected": expected_version})).first()
    return r is not None


async def list_keys(pg: StatementConnection, tenant: str, person: str, ns: str, prefix: str,
                    after: str, limit: int) -> list[KVRow]:
    conn = sqlite_connection(pg)
    rows = (await conn.execute(_LIST, {**_scope(tenant, person, ns, "", now(conn)),
                                       "after": after, "prefix": prefix,
                                       "lim": limit})).all()
    return [_row(r) for r in rows]


async def sweep_expired(conn: AsyncConnection, batch: int) -> int:
    """One batch of the background sweep (a system transaction): by rowid, LIMIT batch."""
    result = await conn.execute(_SWEEP, {"now": ts(now(conn)), "b": batch})
    return int(result.rowcount or 0)
