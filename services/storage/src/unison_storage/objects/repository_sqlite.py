"""SQL for the objects table on SQLite (development only): the same functions and meaning
as `repository` (PostgreSQL). Person-facing queries name tenant AND person: with no
row-level security on SQLite, that filter is the only tenant fence.

No locks: every transaction begins with BEGIN IMMEDIATE and holds SQLite's single write
lock until it ends, which serialises the quota check and insert of every upload as the
PostgreSQL advisory lock does per tenant.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection

from ..database import StatementConnection, sqlite_connection
from ..sqlite_values import loads, now, parse_ts, ts
from .repository import COLS, SCOPE, ListDialect, ListFilter, NewObject, ObjectRow, list_query

# Statements whose SQL and results are the same on both backends: one definition serves.
from .repository import delete_by_key as delete_by_key
from .repository import rows_after as rows_after
from .repository import tenant_usage as tenant_usage


def _object(r: Sequence[Any]) -> ObjectRow:
    return ObjectRow(id=r[0], filename=r[1], content_type=r[2], size_bytes=int(r[3]),
                     sha256=r[4], labels=loads(r[5]), storage_key=r[6], tenant_id=r[7],
                     person_id=r[8], created_at=parse_ts(r[9]))


async def get(conn: StatementConnection, tenant: str, person: str,
              object_id: str) -> ObjectRow | None:
    row = (await sqlite_connection(conn).execute(
        text(f"SELECT {COLS} FROM objects WHERE {SCOPE} AND id = :id"),
        {"t": tenant, "p": person, "id": object_id})).first()
    return _object(row) if row else None


async def get_in_tenant(conn: StatementConnection, tenant: str,
                        object_id: str) -> ObjectRow | None:
    """For presigned downloads only: the signature names tenant and id, not a person."""
    row = (await sqlite_connection(conn).execute(
        text(f"SELECT {COLS} FROM objects WHERE tenant_id = :t AND id = :id"),
        {"t": tenant, "id": object_id})).first()
    return _object(row) if row else None


async def lock_tenant_quota(conn: AsyncConnection, tenant: str) -> None:
    """Nothing to take: this transaction already holds the database's write lock."""


def _params(conn: AsyncConnection, tenant: str, person: str, new: NewObject) -> dict[str, Any]:
    return {"t": tenant, "p": person, "id": new.id, "fn": new.filename,
            "ct": new.content_type, "size": new.size_bytes, "sha": new.sha256,
            "labels": orjson.dumps(new.labels).decode(), "key": new.storage_key,
            "now": ts(now(conn))}


async def insert(conn: AsyncConnection, tenant: str, person: str, new: NewObject) -> ObjectRow:
    row = (await conn.execute(text(f"""
        INSERT INTO objects (tenant_id, id, person_id, filename, content_type, size_bytes,
                             sha256, labels, storage_key, created_at)
        VALUES (:t, :id, :p, :fn, :ct, :size, :sha, :labels, :key, :now)
        ON CONFLICT (tenant_id, id) DO NOTHING
        RETURNING {COLS}"""), _params(conn, tenant, person, new))).first()
    if row is None:
        raise LookupError("object id taken")
    return _object(row)


async def get_for_update(conn: AsyncConnection, tenant: str,
                         object_id: str) -> ObjectRow | None:
    return await get_in_tenant(conn, tenant, object_id)


async def replace(conn: AsyncConnection, tenant: str, person: str, new: NewObject) -> ObjectRow:
    """Points an existing row of this person at a new payload (legacy re-upload by id)."""
    row = (await conn.execute(text(f"""
        UPDATE objects SET filename = :fn, content_type = :ct, size_bytes = :size,
            sha256 = :sha, labels = :labels, storage_key = :key, created_at = :now
        WHERE {SCOPE} AND id = :id RETURNING {COLS}"""),
        _params(conn, tenant, person, new))).one()
    return _object(row)


def _json_labels(labels: dict[str, str], params: dict[str, Any]) -> list[str]:
    """Label containment (jsonb @> on PostgreSQL): each wanted pair is in the object."""
    where = []
    for i, (name, value) in enumerate(sorted(labels.items())):
        where.append(f"EXISTS (SELECT 1 FROM json_each(objects.labels) "
                     f"WHERE json_each.key = :lk{i} AND json_each.type = 'text' "
                     f"AND json_each.value = :lv{i})")
        params[f"lk{i}"], params[f"lv{i}"] = name, value
    return where


_SQLITE = ListDialect(prefix_match="substr(content_type, 1, length(:ctp)) = :ctp",
                      labels_match=_json_labels, stamp=ts)


async def list_objects(conn: StatementConnection, tenant: str, person: str, f: ListFilter,
                       after: tuple[datetime, str] | None, limit: int) -> list[ObjectRow]:
    sql, params = list_query(_SQLITE, tenant, person, f, after, limit)
    return [_object(r) for r in (await sqlite_connection(conn).execute(text(sql), params)).all()]


async def delete(conn: StatementConnection, tenant: str, person: str,
                 object_id: str) -> str | None:
    """Deletes the row; returns the payload key to delete next, None when absent."""
    key = (await sqlite_connection(conn).execute(text(
        f"DELETE FROM objects WHERE {SCOPE} AND id = :id RETURNING storage_key"),
        {"t": tenant, "p": person, "id": object_id})).scalar_one_or_none()
    return str(key) if key is not None else None


# Reconcile (system transactions: these cross tenants by design).

async def known_keys(conn: AsyncConnection, keys: list[str]) -> set[str]:
    rows = (await conn.execute(text(
        "SELECT storage_key FROM objects WHERE storage_key IN :keys").bindparams(
        bindparam("keys", expanding=True)), {"keys": keys})).all()
    return {str(r[0]) for r in rows}
