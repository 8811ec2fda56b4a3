"""SQL for tenant_data_keys."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True)
class WrappedKey:
    tenant_id: str
    version: int
    kek_version: str
    wrapped_key: bytes


_COLUMNS = "tenant_id, version, kek_version, wrapped_key"


async def latest(conn: AsyncConnection, tenant_id: str) -> WrappedKey | None:
    row = (await conn.execute(text(
        f"SELECT {_COLUMNS} FROM tenant_data_keys WHERE tenant_id = :t "
        "ORDER BY version DESC LIMIT 1"), {"t": tenant_id})).first()
    return WrappedKey(*row) if row else None


async def get(conn: AsyncConnection, tenant_id: str, version: int) -> WrappedKey | None:
    row = (await conn.execute(text(
        f"SELECT {_COLUMNS} FROM tenant_data_keys WHERE tenant_id = :t AND version = :v"),
        {"t": tenant_id, "v": version})).first()
    return WrappedKey(*row) if row else None


async def insert_if_absent(conn: AsyncConnection, key: WrappedKey) -> None:
    # Two replicas may create a tenant's first key at once; the first insert wins and
    # the loser reads the winner's key back.
    await conn.execute(text(
        "INSERT INTO tenant_data_keys (tenant_id, version, kek_version, wrapped_key) "
        "VALUES (:t, :v, :k, :w) ON CONFLICT (tenant_id, version) DO NOTHING"),
        {"t": key.tenant_id, "v": key.version, "k": key.kek_version, "w": key.wrapped_key})


async def all_keys(conn: AsyncConnection, lock: bool = False) -> list[WrappedKey]:
    # A rewrap locks the rows it rewrites so two rewraps (CLI and admin route, or two
    # replicas) cannot interleave on one key.
    suffix = " FOR UPDATE" if lock else ""
    rows = (await conn.execute(text(
        f"SELECT {_COLUMNS} FROM tenant_data_keys ORDER BY tenant_id, version{suffix}"))).all()
    return [WrappedKey(*r) for r in rows]


async def count_by_kek(conn: AsyncConnection) -> dict[str, int]:
    """How many data keys each KEK version wraps: a KEK can be retired at zero."""
    rows = (await conn.execute(text(
        "SELECT kek_version, count(*) FROM tenant_data_keys GROUP BY kek_version"))).all()
    return {str(r[0]): int(r[1]) for r in rows}


async def lock_rotation(conn: AsyncConnection) -> None:
    """Serialise KEK rotations across processes for the rest of the transaction."""
    await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('unison:kek-rotation'))"))


async def rewrap(conn: AsyncConnection, tenant_id: str, version: int, kek_version: str,
                 wrapped: bytes) -> None:
    await conn.execute(text(
        "UPDATE tenant_data_keys SET kek_version = :k, wrapped_key = :w, rewrapped_at = now() "
        "WHERE tenant_id = :t AND version = :v"),
        {"t": tenant_id, "v": version, "k": kek_version, "w": wrapped})
