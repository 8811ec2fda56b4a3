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

from ..sqlite_values import loads, now, parse_ts, ts
from .repository import ListFilter, NewObject, ObjectRow

_COLS = ("tenant_id, id, person_id, filename, content_type, size_bytes, sha256, labels, "
         "storage_key, created_at")
_SCOPE = "tenant_id = :t AND person_id = :p"


def _object(r: Sequence[Any]) -> ObjectRow:
    return ObjectRow(tenant_id=r[0], id=r[1], person_id=r[2], filename=r[3],
                     content_type=r[4], size_bytes=int(r[5]), sha256=r[6],
                     labels=loads(r[7]), storage_key=r[8], created_at=parse_ts(r[9]))


async def get(conn: AsyncConnection, tenant: str, person: str, object_id: str) -> ObjectRow | None:
    row = (await conn.execute(text(f"SELECT {_COLS} FROM objects WHERE {_SCOPE} AND id = :id"),
                              {"t": tenant, "p": person, "id": object_id})).first()
    return _object(row) if row else None


async def get_in_tenant(conn: AsyncConnection, tenant: str, object_id: str) -> ObjectRow | None:
    """For presigned downloads only: the signature names tenant and id, not a person."""
    row = (await conn.execute(text(f"SELECT {_COLS} FROM objects WHERE tenant_id = :t "
                                   "AND id = :id"), {"t": tenant, "id": object_id})).first()
    return _object(row) if row else None


async def lock_tenant_quota(conn: AsyncConnection, tenant: str) -> None:
    """Nothing to take: this transaction already holds the database's write lock."""


async def tenant_usage(conn: AsyncConnection, tenant: str) -> int:
    """Bytes the whole household uses: the quota is per tenant, across its persons."""
    value = (await conn.execute(text(
        "SELECT coalesce(sum(size_bytes), 0) FROM objects WHERE tenant_id = :t"),
        {"t": tenant})).scalar_one()
    return int(value)


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
        RETURNING {_COLS}"""), _params(conn, tenant, person, new))).first()
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
        WHERE {_SCOPE} AND id = :id RETURNING {_COLS}"""),
        _params(conn, tenant, person, new))).one()
    return _object(row)


async def delete(conn: AsyncConnection, tenant: str, person: str, object_id: str) -> str | None:
    """Deletes the row; returns the payload key to delete next, None when absent."""
    key = (await conn.execute(text(
        f"DELETE FROM objects WHERE {_SCOPE} AND id = :id RETURNING storage_key"),
        {"t": tenant, "p": person, "id": object_id})).scalar_one_or_none()
    return str(key) if key is not None else None


async def list_objects(conn: AsyncConnection, tenant: str, person: str, f: ListFilter,
                       after: tuple[datetime, str] | None, limit: int) -> list[ObjectRow]:
    # Every fragment below is a constant; only bound parameters carry caller input.
    where = [_SCOPE]
    params: dict[str, Any] = {"t": tenant, "p": person, "lim": limit}
    if f.content_type is not None:
        if f.content_type.endswith("/*"):
            where.append("substr(content_type, 1, length(:ctp)) = :ctp")
            params["ctp"] = f.content_type[:-1]
        else:
            where.append("content_type = :ct")
            params["ct"] = f.content_type
    # Label containment (jsonb @> on PostgreSQL): each wanted pair must be in the object.
    for i, (name, value) in enumerate(sorted((f.labels or {}).items())):
        where.append(f"EXISTS (SELECT 1 FROM json_each(objects.labels) "
                     f"WHERE json_each.key = :lk{i} AND json_each.type = 'text' "
                     f"AND json_each.value = :lv{i})")
        params[f"lk{i}"], params[f"lv{i}"] = name, value
    if f.created_after is not None:
        where.append("created_at > :ca")
        params["ca"] = ts(f.created_after)
    if f.created_before is not None:
        where.append("created_at < :cb")
        params["cb"] = ts(f.created_before)
    if after is not None:
        where.append("(created_at, id) < (:after_at, :after_id)")
        params["after_at"], params["after_id"] = ts(after[0]), after[1]
    rows = (await conn.execute(text(
        f"SELECT {_COLS} FROM objects WHERE {' AND '.join(where)} "
        "ORDER BY created_at DESC, id DESC LIMIT :lim"), params)).all()
    return [_object(r) for r in rows]


# Reconcile (system transactions: these cross tenants by design).

async def known_keys(conn: AsyncConnection, keys: list[str]) -> set[str]:
    rows = (await conn.execute(text(
        "SELECT storage_key FROM objects WHERE storage_key IN :keys").bindparams(
        bindparam("keys", expanding=True)), {"keys": keys})).all()
    return {str(r[0]) for r in rows}


async def rows_after(conn: AsyncConnection, after_key: str,
                     limit: int) -> list[tuple[str, str, str]]:
    """(tenant, id, storage_key) ordered by storage_key, for a keyset walk of all rows."""
    rows = (await conn.execute(text(
        "SELECT tenant_id, id, storage_key FROM objects WHERE storage_key > :after "
        "ORDER BY storage_key LIMIT :lim"), {"after": after_key, "lim": limit})).all()
    return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]


async def delete_by_key(conn: AsyncConnection, storage_key: str) -> bool:
    result = await conn.execute(text("DELETE FROM objects WHERE storage_key = :k"),
                                {"k": storage_key})
    return bool(result.rowcount)
