"""SQL for the objects table: metadata rows whose payloads live under `storage_key`."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from unison_shared.database import StatementConnection, fetch, fetchrow
from unison_shared.sqlparams import Positional


@dataclass(frozen=True)
class NewObject:
    id: str
    filename: str | None
    content_type: str
    size_bytes: int
    sha256: str
    labels: dict[str, str]
    storage_key: str


@dataclass(frozen=True)
class ObjectRow(NewObject):
    """A stored object: what the upload wrote, plus what the row adds (owner and time)."""

    tenant_id: str
    person_id: str
    created_at: datetime


@dataclass(frozen=True)
class ListFilter:
    content_type: str | None = None
    labels: dict[str, str] | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


@dataclass(frozen=True)
class ListDialect:
    """The parts of the list query that differ between PostgreSQL and SQLite; the rest
    is built once, by `list_query`, for both."""

    prefix_match: str  # constant SQL: content_type starts with :ctp
    # Constant SQL conditions for "the object carries every one of these labels",
    # binding the labels into the params it is handed.
    labels_match: Callable[[dict[str, str], dict[str, Any]], list[str]]
    stamp: Callable[[datetime], Any]  # a timestamp as the driver binds it


# In ObjectRow's field order, so a row constructs it positionally.
COLS = ("id, filename, content_type, size_bytes, sha256, labels, storage_key, tenant_id, "
        "person_id, created_at")
SCOPE = "tenant_id = :t AND person_id = :p"


def list_query(d: ListDialect, tenant: str, person: str, f: ListFilter,
               after: tuple[datetime, str] | None, limit: int) -> tuple[str, dict[str, Any]]:
    """One page of a person's objects, newest first, keyset-paginated by (created_at, id)."""
    # Every fragment below is a constant; only bound parameters carry caller input.
    where = [SCOPE]
    params: dict[str, Any] = {"t": tenant, "p": person, "lim": limit}
    if f.content_type is not None:
        if f.content_type.endswith("/*"):
            where.append(d.prefix_match)
            params["ctp"] = f.content_type[:-1]
        else:
            where.append("content_type = :ct")
            params["ct"] = f.content_type
    if f.labels:
        where.extend(d.labels_match(f.labels, params))
    if f.created_after is not None:
        where.append("created_at > :ca")
        params["ca"] = d.stamp(f.created_after)
    if f.created_before is not None:
        where.append("created_at < :cb")
        params["cb"] = d.stamp(f.created_before)
    if after is not None:
        where.append("(created_at, id) < (:after_at, :after_id)")
        params["after_at"], params["after_id"] = d.stamp(after[0]), after[1]
    return (f"SELECT {COLS} FROM objects WHERE {' AND '.join(where)} "
            "ORDER BY created_at DESC, id DESC LIMIT :lim"), params


def _jsonb_labels(labels: dict[str, str], params: dict[str, Any]) -> list[str]:
    params["labels"] = orjson.dumps(labels).decode()
    return ["labels @> CAST(:labels AS jsonb)"]


_PG = ListDialect(prefix_match="starts_with(content_type, :ctp)",
                  labels_match=_jsonb_labels, stamp=lambda at: at)


# The request paths' reads and the delete are single statements: they run on the
# statement pool's connections (one round trip in the caller's scope) and, inside an
# upload's transaction, on its SQLAlchemy connection's driver connection.
_GET = Positional.compile(f"SELECT {COLS} FROM objects WHERE {SCOPE} AND id = :id")
_GET_IN_TENANT = Positional.compile(f"SELECT {COLS} FROM objects WHERE tenant_id = :t "
                                    "AND id = :id")
_DELETE = Positional.compile(f"DELETE FROM objects WHERE {SCOPE} AND id = :id "
                             "RETURNING storage_key")


async def get(conn: StatementConnection, tenant: str, person: str,
              object_id: str) -> ObjectRow | None:
    row = await fetchrow(conn, _GET, {"t": tenant, "p": person, "id": object_id})
    return ObjectRow(*row) if row else None


async def get_in_tenant(conn: StatementConnection, tenant: str,
                        object_id: str) -> ObjectRow | None:
    """For presigned downloads only: the signature names tenant and id, not a person."""
    row = await fetchrow(conn, _GET_IN_TENANT, {"t": tenant, "id": object_id})
    return ObjectRow(*row) if row else None


_LOCK_QUOTA = Positional.compile("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))")
_USAGE = Positional.compile(
    "SELECT coalesce(sum(size_bytes), 0) FROM objects WHERE tenant_id = :t")
_INSERT = Positional.compile(f"""
    INSERT INTO objects (tenant_id, id, person_id, filename, content_type, size_bytes,
                         sha256, labels, storage_key)
    VALUES (:t, :id, :p, :fn, :ct, :size, :sha, CAST(:labels AS jsonb), :key)
    ON CONFLICT (tenant_id, id) DO NOTHING
    RETURNING {COLS}""")
_GET_FOR_UPDATE = Positional.compile(
    f"SELECT {COLS} FROM objects WHERE tenant_id = :t AND id = :id FOR UPDATE")
_REPLACE = Positional.compile(f"""
    UPDATE objects SET filename = :fn, content_type = :ct, size_bytes = :size,
        sha256 = :sha, labels = CAST(:labels AS jsonb), storage_key = :key,
        created_at = now()
    WHERE {SCOPE} AND id = :id RETURNING {COLS}""")


async def lock_tenant_quota(conn: StatementConnection, tenant: str) -> None:
    """Serialises the final quota check of one tenant's inserts (on every replica) until
    the transaction ends, so concurrent uploads cannot together overshoot the quota."""
    await fetchrow(conn, _LOCK_QUOTA, {"k": f"objects-quota:{tenant}"})


async def tenant_usage(conn: StatementConnection, tenant: str) -> int:
    """Bytes the whole household uses: the quota is per tenant, across its persons."""
    row = await fetchrow(conn, _USAGE, {"t": tenant})
    assert row is not None
    return int(row[0])


async def insert(conn: StatementConnection, tenant: str, person: str,
                 new: NewObject) -> ObjectRow:
    row = await fetchrow(conn, _INSERT, _params(tenant, person, new))
    if row is None:
        raise LookupError("object id taken")
    return ObjectRow(*row)


async def get_for_update(conn: StatementConnection, tenant: str,
                         object_id: str) -> ObjectRow | None:
    row = await fetchrow(conn, _GET_FOR_UPDATE, {"t": tenant, "id": object_id})
    return ObjectRow(*row) if row else None


async def replace(conn: StatementConnection, tenant: str, person: str,
                  new: NewObject) -> ObjectRow:
    """Points an existing row of this person at a new payload (legacy re-upload by id)."""
    row = await fetchrow(conn, _REPLACE, _params(tenant, person, new))
    assert row is not None
    return ObjectRow(*row)


def _params(tenant: str, person: str, new: NewObject) -> dict[str, Any]:
    return {"t": tenant, "p": person, "id": new.id, "fn": new.filename,
            "ct": new.content_type, "size": new.size_bytes, "sha": new.sha256,
            "labels": orjson.dumps(new.labels).decode(), "key": new.storage_key}


async def delete(conn: StatementConnection, tenant: str, person: str,
                 object_id: str) -> str | None:
    """Deletes the row; returns the payload key to delete next, None when absent."""
    row = await fetchrow(conn, _DELETE, {"t": tenant, "p": person, "id": object_id})
    return str(row[0]) if row else None


@functools.lru_cache(maxsize=256)
def _compiled(sql: str) -> Positional:
    # The list statement depends only on which filters are set: a few dozen at most.
    return Positional.compile(sql)


async def list_objects(conn: StatementConnection, tenant: str, person: str, f: ListFilter,
                       after: tuple[datetime, str] | None, limit: int) -> list[ObjectRow]:
    sql, params = list_query(_PG, tenant, person, f, after, limit)
    return [ObjectRow(*r) for r in await fetch(conn, _compiled(sql), params)]


# Reconcile (system transactions: these cross tenants by design).

async def known_keys(conn: AsyncConnection, keys: list[str]) -> set[str]:
    rows = (await conn.execute(text(
        "SELECT storage_key FROM objects WHERE storage_key = ANY(:keys)"), {"keys": keys})).all()
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
