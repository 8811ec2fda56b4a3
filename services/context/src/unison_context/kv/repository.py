"""SQL for context_kv."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg


@dataclass(frozen=True)
class KVRow:
    key: str
    tier: str | None
    ciphertext: bytes
    dek_version: int


@dataclass(frozen=True)
class KVWrite:
    key: str
    tier: str | None
    ciphertext: bytes
    dek_version: int


_SCOPE = "tenant_id = $1 AND person_id = $2"


async def put_many(pg: asyncpg.Connection, tenant: str, person: str,
                   writes: list[KVWrite]) -> None:
    await pg.execute(
        "INSERT INTO context_kv (tenant_id, person_id, key, tier, ciphertext, dek_version) "
        "SELECT $1, $2, k, t, c, d FROM unnest($3::text[], $4::text[], $5::bytea[], "
        "$6::integer[]) AS u(k, t, c, d) "
        "ON CONFLICT (tenant_id, person_id, key) DO UPDATE SET tier = EXCLUDED.tier, "
        "ciphertext = EXCLUDED.ciphertext, dek_version = EXCLUDED.dek_version, "
        "updated_at = now()",
        tenant, person, [w.key for w in writes], [w.tier for w in writes],
        [w.ciphertext for w in writes], [w.dek_version for w in writes])


async def get_many(pg: asyncpg.Connection, tenant: str, person: str,
                   keys: list[str]) -> list[KVRow]:
    rows = await pg.fetch(
        f"SELECT key, tier, ciphertext, dek_version FROM context_kv WHERE {_SCOPE} "
        "AND key = ANY($3::text[])", tenant, person, keys)
    return [KVRow(*r.values()) for r in rows]


async def profile_keys(pg: asyncpg.Connection, tenant: str, person: str, prefix: str,
                       limit: int) -> list[KVRow]:
    rows = await pg.fetch(
        f"SELECT key, tier, ciphertext, dek_version FROM context_kv WHERE {_SCOPE} "
        "AND starts_with(key, $3) AND strpos(key, ':profile:') > 0 ORDER BY key LIMIT $4",
        tenant, person, prefix, limit)
    return [KVRow(*r.values()) for r in rows]
