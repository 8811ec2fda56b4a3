"""SQL for tenant_data_keys (PostgreSQL), run on the asyncpg connection: the caller's
own (vault transactions) or the one under a SQLAlchemy connection (KEK rotation), in
the caller's transaction either way."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from unison_shared.database import StatementConnection, asyncpg_of


@dataclass(frozen=True)
class WrappedKey:
    tenant_id: str
    version: int
    kek_version: str
    wrapped_key: bytes


_COLUMNS = "tenant_id, version, kek_version, wrapped_key"


def _key(row: asyncpg.Record | None) -> WrappedKey | None:
    return WrappedKey(*row.values()) if row is not None else None


async def latest(conn: StatementConnection, tenant_id: str) -> WrappedKey | None:
    pg = await asyncpg_of(conn)
    return _key(await pg.fetchrow(
        f"SELECT {_COLUMNS} FROM tenant_data_keys WHERE tenant_id = $1 "
        "ORDER BY version DESC LIMIT 1", tenant_id))


async def get(conn: StatementConnection, tenant_id: str, version: int) -> WrappedKey | None:
    pg = await asyncpg_of(conn)
    return _key(await pg.fetchrow(
        f"SELECT {_COLUMNS} FROM tenant_data_keys WHERE tenant_id = $1 AND version = $2",
        tenant_id, version))


async def insert_if_absent(conn: StatementConnection, key: WrappedKey) -> None:
    # Two replicas may create a tenant's first key at once; the first insert wins and
    # the loser reads the winner's key back.
    pg = await asyncpg_of(conn)
    await pg.execute(
        "INSERT INTO tenant_data_keys (tenant_id, version, kek_version, wrapped_key) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, version) DO NOTHING",
        key.tenant_id, key.version, key.kek_version, key.wrapped_key)


async def all_keys(conn: StatementConnection, lock: bool = False) -> list[WrappedKey]:
    # A rewrap locks the rows it rewrites so two rewraps (CLI and admin route, or two
    # replicas) cannot interleave on one key.
    suffix = " FOR UPDATE" if lock else ""
    pg = await asyncpg_of(conn)
    rows = await pg.fetch(
        f"SELECT {_COLUMNS} FROM tenant_data_keys ORDER BY tenant_id, version{suffix}")
    return [WrappedKey(*r.values()) for r in rows]


async def count_by_kek(conn: StatementConnection) -> dict[str, int]:
    """How many data keys each KEK version wraps: a KEK can be retired at zero."""
    pg = await asyncpg_of(conn)
    rows = await pg.fetch(
        "SELECT kek_version, count(*) FROM tenant_data_keys GROUP BY kek_version")
    return {str(r[0]): int(r[1]) for r in rows}


async def lock_rotation(conn: StatementConnection) -> None:
    """Serialise KEK rotations across processes for the rest of the transaction."""
    pg = await asyncpg_of(conn)
    await pg.execute("SELECT pg_advisory_xact_lock(hashtext('unison:kek-rotation'))")


async def rewrap(conn: StatementConnection, tenant_id: str, version: int, kek_version: str,
                 wrapped: bytes) -> None:
    pg = await asyncpg_of(conn)
    await pg.execute(
        "UPDATE tenant_data_keys SET kek_version = $3, wrapped_key = $4, rewrapped_at = now() "
        "WHERE tenant_id = $1 AND version = $2", tenant_id, version, kek_version, wrapped)
