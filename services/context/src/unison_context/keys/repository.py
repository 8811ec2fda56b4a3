"""SQL for person_data_keys, on the caller's asyncpg connection (and transaction)."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from unison_shared.database import StatementConnection, asyncpg_of


@dataclass(frozen=True)
class WrappedKey:
    tenant_id: str
    person_id: str
    version: int
    kek_version: str
    wrapped_key: bytes
    # Written by the reading transaction itself, so not yet committed: it may still roll
    # back, and a process must not remember a key that might never exist.
    uncommitted: bool = False


_COLUMNS = "tenant_id, person_id, version, kek_version, wrapped_key"
# Whether the row may have been written by the reader's own transaction (or one of its
# savepoints, whose ids come after it): its 32-bit xmin at or after the current
# transaction's id, which is NULL when this transaction has written nothing. A row
# another transaction committed meanwhile can match too; it is then merely not cached.
_UNCOMMITTED = ("coalesce(xmin::text::bigint >= "
                "pg_current_xact_id_if_assigned()::text::bigint % 4294967296, false)")


def _key(row: asyncpg.Record | None) -> WrappedKey | None:
    return WrappedKey(*row.values()) if row is not None else None


async def latest(pg: asyncpg.Connection, tenant_id: str, person_id: str) -> WrappedKey | None:
    return _key(await pg.fetchrow(
        f"SELECT {_COLUMNS}, {_UNCOMMITTED} FROM person_data_keys "
        "WHERE tenant_id = $1 AND person_id = $2 "
        "ORDER BY version DESC LIMIT 1", tenant_id, person_id))


async def get(pg: asyncpg.Connection, tenant_id: str, person_id: str,
              version: int) -> WrappedKey | None:
    return _key(await pg.fetchrow(
        f"SELECT {_COLUMNS}, {_UNCOMMITTED} FROM person_data_keys "
        "WHERE tenant_id = $1 AND person_id = $2 "
        "AND version = $3", tenant_id, person_id, version))


async def insert_if_absent(pg: asyncpg.Connection, key: WrappedKey) -> None:
    # Two replicas may create a person's first key at once: the first insert wins and
    # the loser reads the winner's key back.
    await pg.execute(
        f"INSERT INTO person_data_keys ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT (tenant_id, person_id, version) DO NOTHING",
        key.tenant_id, key.person_id, key.version, key.kek_version, key.wrapped_key)


async def delete_person(pg: asyncpg.Connection, tenant_id: str, person_id: str) -> int:
    """Destroy the person's wrapped data keys; how many."""
    status: str = await pg.execute(
        "DELETE FROM person_data_keys WHERE tenant_id = $1 AND person_id = $2",
        tenant_id, person_id)
    return int(status.split()[-1])


async def all_keys_locked(conn: StatementConnection) -> list[WrappedKey]:
    """Every person's data keys (a system job: the system role sees every tenant), locked
    so two rewraps cannot interleave on one key."""
    pg = await asyncpg_of(conn)
    rows = await pg.fetch(f"SELECT {_COLUMNS} FROM person_data_keys "
                          "ORDER BY tenant_id, person_id, version FOR UPDATE")
    return [WrappedKey(*r.values()) for r in rows]


async def rewrap(conn: StatementConnection, key: WrappedKey) -> None:
    pg = await asyncpg_of(conn)
    await pg.execute(
        "UPDATE person_data_keys SET kek_version = $4, wrapped_key = $5 "
        "WHERE tenant_id = $1 AND person_id = $2 AND version = $3",
        key.tenant_id, key.person_id, key.version, key.kek_version, key.wrapped_key)


async def count_by_kek(conn: StatementConnection) -> dict[str, int]:
    pg = await asyncpg_of(conn)
    rows = await pg.fetch("SELECT kek_version, count(*) FROM person_data_keys "
                          "GROUP BY kek_version")
    return {str(r[0]): int(r[1]) for r in rows}
