"""SQL for person_data_keys (migration 0019), on the caller's connection and in its
transaction or autocommit (row-level security shows the caller's tenant's keys)."""

from __future__ import annotations

from unison_shared.database import StatementConnection, asyncpg_of


async def get(conn: StatementConnection, tenant_id: str, person_id: str,
              version: int) -> bytes | None:
    """The wrapped key of the person at the tenant key version; None if there is none."""
    pg = await asyncpg_of(conn)
    wrapped: bytes | None = await pg.fetchval(
        "SELECT wrapped_key FROM person_data_keys WHERE tenant_id = $1 AND person_id = $2 "
        "AND version = $3", tenant_id, person_id, version)
    return wrapped


async def insert_if_absent(conn: StatementConnection, tenant_id: str, person_id: str,
                           version: int, wrapped: bytes) -> bytes:
    """Store the key unless one exists; returns the stored one. Two replicas may make a
    person's key at once: the first insert wins and the loser uses the winner's key."""
    pg = await asyncpg_of(conn)
    await pg.execute(
        "INSERT INTO person_data_keys (tenant_id, person_id, version, wrapped_key) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, person_id, version) DO NOTHING",
        tenant_id, person_id, version, wrapped)
    stored = await get(conn, tenant_id, person_id, version)
    assert stored is not None
    return stored


async def delete_person(conn: StatementConnection, tenant_id: str, person_id: str) -> int:
    """Destroy every data key of the person (crypto-shredding); how many went."""
    pg = await asyncpg_of(conn)
    rows = await pg.fetch(
        "DELETE FROM person_data_keys WHERE tenant_id = $1 AND person_id = $2 "
        "RETURNING version", tenant_id, person_id)
    return len(rows)
