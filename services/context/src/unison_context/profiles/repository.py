"""SQL for profile_credentials (PIN/passcode hashes)."""

from __future__ import annotations

import asyncpg


async def get_hash(pg: asyncpg.Connection, tenant: str, person: str, kind: str) -> str | None:
    value = await pg.fetchval(
        "SELECT hash FROM profile_credentials WHERE tenant_id = $1 AND person_id = $2 "
        "AND kind = $3", tenant, person, kind)
    return str(value) if value is not None else None


async def set_hash(pg: asyncpg.Connection, tenant: str, person: str, kind: str,
                   hashed: str) -> None:
    await pg.execute(
        "INSERT INTO profile_credentials (tenant_id, person_id, kind, hash) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, person_id, kind) "
        "DO UPDATE SET hash = EXCLUDED.hash, updated_at = now()", tenant, person, kind, hashed)


async def keep_only(pg: asyncpg.Connection, tenant: str, person: str, kinds: list[str]) -> None:
    """Delete the hashes of kinds the profile no longer has."""
    await pg.execute(
        "DELETE FROM profile_credentials WHERE tenant_id = $1 AND person_id = $2 "
        "AND NOT (kind = ANY($3::text[]))", tenant, person, kinds)


async def delete_all(pg: asyncpg.Connection, tenant: str, person: str) -> None:
    await pg.execute("DELETE FROM profile_credentials WHERE tenant_id = $1 AND person_id = $2",
                     tenant, person)
