"""SQL for tenant_data_keys on SQLite (development only): the same functions and meaning
as `repository` (PostgreSQL). Locks are not needed here: every transaction begins with
BEGIN IMMEDIATE and so holds SQLite's single write lock until it ends, which serialises
rewraps and rotations across processes as the PostgreSQL row and advisory locks do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from ..sqlite_values import now, ts
from .repository import WrappedKey

_COLUMNS = "tenant_id, version, kek_version, wrapped_key"


def _key(row: Sequence[Any]) -> WrappedKey:
    return WrappedKey(str(row[0]), int(row[1]), str(row[2]), bytes(row[3]))


async def latest(conn: AsyncConnection, tenant_id: str) -> WrappedKey | None:
    row = (await conn.execute(text(
        f"SELECT {_COLUMNS} FROM tenant_data_keys WHERE tenant_id = :t "
        "ORDER BY version DESC LIMIT 1"), {"t": tenant_id})).first()
    return _key(row) if row else None


async def get(conn: AsyncConnection, tenant_id: str, version: int) -> WrappedKey | None:
    row = (await conn.execute(text(
        f"SELECT {_COLUMNS} FROM tenant_data_keys WHERE tenant_id = :t AND version = :v"),
        {"t": tenant_id, "v": version})).first()
    return _key(row) if row else None


async def insert_if_absent(conn: AsyncConnection, key: WrappedKey) -> None:
    await conn.execute(text(
        "INSERT INTO tenant_data_keys (tenant_id, version, kek_version, wrapped_key, "
        "created_at) VALUES (:t, :v, :k, :w, :now) "
        "ON CONFLICT (tenant_id, version) DO NOTHING"),
        {"t": key.tenant_id, "v": key.version, "k": key.kek_version, "w": key.wrapped_key,
         "now": ts(now(conn))})


async def all_keys(conn: AsyncConnection, lock: bool = False) -> list[WrappedKey]:
    # `lock` needs nothing: this transaction already holds the database's write lock.
    rows = (await conn.execute(text(
        f"SELECT {_COLUMNS} FROM tenant_data_keys ORDER BY tenant_id, version"))).all()
    return [_key(r) for r in rows]


async def count_by_kek(conn: AsyncConnection) -> dict[str, int]:
    """How many data keys each KEK version wraps: a KEK can be retired at zero."""
    rows = (await conn.execute(text(
        "SELECT kek_version, count(*) FROM tenant_data_keys GROUP BY kek_version"))).all()
    return {str(r[0]): int(r[1]) for r in rows}


async def lock_rotation(conn: AsyncConnection) -> None:
    """Nothing to take: BEGIN IMMEDIATE already serialises this transaction with every
    other writer, in this process and in any other on the same file."""


async def rewrap(conn: AsyncConnection, tenant_id: str, version: int, kek_version: str,
                 wrapped: bytes) -> None:
    await conn.execute(text(
        "UPDATE tenant_data_keys SET kek_version = :k, wrapped_key = :w, rewrapped_at = :now "
        "WHERE tenant_id = :t AND version = :v"),
        {"t": tenant_id, "v": version, "k": kek_version, "w": wrapped, "now": ts(now(conn))})
