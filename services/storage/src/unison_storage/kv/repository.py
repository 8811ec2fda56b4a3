"""SQL for kv_records. An expired record is invisible to every read here, whether or not
the sweeper has deleted it yet."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

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


_COLS = "namespace, key, value, value_enc, dek_version, version, expires_at, updated_at"
_LIVE = "(expires_at IS NULL OR expires_at > now())"
_SCOPE = "tenant_id = :t AND person_id = :p AND namespace = :ns"


async def get(conn: AsyncConnection, tenant: str, person: str, ns: str, key: str) -> KVRow | None:
    row = (await conn.execute(text(
        f"SELECT {_COLS} FROM kv_records WHERE {_SCOPE} AND key = :k AND {_LIVE}"),
        {"t": tenant, "p": person, "ns": ns, "k": key})).first()
    return KVRow(*row) if row else None


_EXPIRY = ("CASE WHEN CAST(:ttl AS integer) IS NULL THEN NULL "
           "ELSE now() + make_interval(secs => CAST(:ttl AS integer)) END")
_UPSERT = f"""
    INSERT INTO kv_records AS cur
        (tenant_id, person_id, namespace, key, value, value_enc, dek_version, version, expires_at)
    VALUES (:t, :p, :ns, :k, CAST(:v AS jsonb), :e, :d, 1, {_EXPIRY})
    ON CONFLICT (tenant_id, person_id, namespace, key) DO UPDATE SET
        value = EXCLUDED.value, value_enc = EXCLUDED.value_enc,
        dek_version = EXCLUDED.dek_version, expires_at = EXCLUDED.expires_at,
        version = CASE WHEN cur.expires_at IS NOT NULL AND cur.expires_at <= now()
                       THEN 1 ELSE cur.version + 1 END,
        updated_at = now()"""


@dataclass(frozen=True)
class KVWrite:
    value_json: str | None
    value_enc: bytes | None
    dek_version: int | None
    ttl_seconds: int | None


def _params(tenant: str, person: str, ns: str, key: str, w: KVWrite) -> dict[str, Any]:
    return {"t": tenant, "p": person, "ns": ns, "k": key, "v": w.value_json, "e": w.value_enc,
            "d": w.dek_version, "ttl": w.ttl_seconds}


async def put(conn: AsyncConnection, tenant: str, person: str, ns: str, key: str,
              w: KVWrite) -> KVRow:
    """Unconditional write (an expired record counts as absent: its version restarts)."""
    row = (await conn.execute(text(f"{_UPSERT} RETURNING {_COLS}"),
                              _params(tenant, person, ns, key, w))).one()
    return KVRow(*row)


async def put_if_absent(conn: AsyncConnection, tenant: str, person: str, ns: str, key: str,
                        w: KVWrite) -> KVRow | None:
    """Create only; None when a live record exists."""
    row = (await conn.execute(text(
        f"{_UPSERT} WHERE cur.expires_at IS NOT NULL AND cur.expires_at <= now() "
        f"RETURNING {_COLS}"), _params(tenant, person, ns, key, w))).first()
    return KVRow(*row) if row else None


async def put_if_version(conn: AsyncConnection, tenant: str, person: str, ns: str, key: str,
                         w: KVWrite, expected_version: int) -> KVRow | None:
    """Check-and-set: one UPDATE, so of two writers expecting the same version (on any
    replica) the row lock lets exactly one win. None when the version does not match."""
    params = _params(tenant, person, ns, key, w) | {"ev": expected_version}
    row = (await conn.execute(text(f"""
        UPDATE kv_records SET value = CAST(:v AS jsonb), value_enc = :e, dek_version = :d,
            expires_at = {_EXPIRY}, version = version + 1, updated_at = now()
        WHERE {_SCOPE} AND key = :k AND version = :ev AND {_LIVE}
        RETURNING {_COLS}"""), params)).first()
    return KVRow(*row) if row else None


async def delete(conn: AsyncConnection, tenant: str, person: str, ns: str, key: str,
                 expected_version: int | None) -> bool:
    cond = " AND version = :ev" if expected_version is not None else ""
    result = await conn.execute(text(
        f"DELETE FROM kv_records WHERE {_SCOPE} AND key = :k AND {_LIVE}{cond}"),
        {"t": tenant, "p": person, "ns": ns, "k": key, "ev": expected_version})
    return bool(result.rowcount)


async def list_keys(conn: AsyncConnection, tenant: str, person: str, ns: str, prefix: str,
                    after: str, limit: int) -> list[KVRow]:
    rows = (await conn.execute(text(
        f"SELECT {_COLS} FROM kv_records WHERE {_SCOPE} AND {_LIVE} "
        "AND key > :after AND starts_with(key, :prefix) ORDER BY key LIMIT :lim"),
        {"t": tenant, "p": person, "ns": ns, "after": after, "prefix": prefix,
         "lim": limit})).all()
    return [KVRow(*r) for r in rows]


async def sweep_expired(conn: AsyncConnection, batch: int) -> int:
    result = await conn.execute(text(
        "DELETE FROM kv_records WHERE ctid IN (SELECT ctid FROM kv_records "
        "WHERE expires_at <= now() LIMIT :b FOR UPDATE SKIP LOCKED)"), {"b": batch})
    return int(result.rowcount or 0)
