"""SQL for the sealed document tables (profiles, dashboards) and profile history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import asyncpg

Table = Literal["profiles", "dashboards"]
_TABLES = frozenset({"profiles", "dashboards"})


@dataclass(frozen=True)
class SealedRow:
    version: int
    ciphertext: bytes
    dek_version: int
    created_at: datetime
    updated_at: datetime


def _table(table: Table) -> str:
    if table not in _TABLES:  # a constant from this package, never caller input
        raise ValueError(table)
    return table


async def get(pg: asyncpg.Connection, table: Table, tenant: str, person: str,
              lock: bool = False) -> SealedRow | None:
    suffix = " FOR UPDATE" if lock else ""
    row = await pg.fetchrow(
        f"SELECT version, ciphertext, dek_version, created_at, updated_at FROM {_table(table)} "
        f"WHERE tenant_id = $1 AND person_id = $2{suffix}", tenant, person)
    return SealedRow(*row.values()) if row else None


async def upsert(pg: asyncpg.Connection, table: Table, tenant: str, person: str, version: int,
                 ciphertext: bytes, dek_version: int, at: datetime | None = None) -> SealedRow:
    """`at`: the write's time when it is not now (an import keeps the legacy time)."""
    row = await pg.fetchrow(
        f"INSERT INTO {_table(table)} AS cur (tenant_id, person_id, version, ciphertext, "
        "dek_version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, "
        "coalesce($6, now()), coalesce($6, now())) "
        "ON CONFLICT (tenant_id, person_id) DO UPDATE SET version = EXCLUDED.version, "
        "ciphertext = EXCLUDED.ciphertext, dek_version = EXCLUDED.dek_version, "
        "updated_at = coalesce($6, now()) "
        "RETURNING version, ciphertext, dek_version, created_at, updated_at",
        tenant, person, version, ciphertext, dek_version, at)
    return SealedRow(*row.values())


async def delete(pg: asyncpg.Connection, table: Table, tenant: str, person: str) -> bool:
    done = await pg.fetchval(
        f"DELETE FROM {_table(table)} WHERE tenant_id = $1 AND person_id = $2 RETURNING 1",
        tenant, person)
    return done is not None


async def upsert_with_history(pg: asyncpg.Connection, tenant: str, person: str, version: int,
                              ciphertext: bytes, dek_version: int, keep: int,
                              at: datetime | None = None) -> SealedRow:
    """The current profile, its history entry and the pruning of the history to the
    newest `keep` versions, in one statement (one round trip)."""
    row = await pg.fetchrow(
        "WITH cur AS (INSERT INTO profiles AS p (tenant_id, person_id, version, ciphertext, "
        "dek_version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, "
        "coalesce($7, now()), coalesce($7, now())) "
        "ON CONFLICT (tenant_id, person_id) DO UPDATE SET version = EXCLUDED.version, "
        "ciphertext = EXCLUDED.ciphertext, dek_version = EXCLUDED.dek_version, "
        "updated_at = coalesce($7, now()) "
        "RETURNING version, ciphertext, dek_version, created_at, updated_at), "
        "hist AS (INSERT INTO profile_history (tenant_id, person_id, version, ciphertext, "
        "dek_version, created_at) VALUES ($1, $2, $3, $4, $5, coalesce($7, now())) "
        "ON CONFLICT DO NOTHING), "
        "pruned AS (DELETE FROM profile_history WHERE tenant_id = $1 AND person_id = $2 "
        "AND version <= $3 - $6) "
        "SELECT version, ciphertext, dek_version, created_at, updated_at FROM cur",
        tenant, person, version, ciphertext, dek_version, keep, at)
    return SealedRow(*row.values())


async def history(pg: asyncpg.Connection, tenant: str, person: str, before: int | None,
                  limit: int) -> list[SealedRow]:
    rows = await pg.fetch(
        "SELECT version, ciphertext, dek_version, created_at, created_at FROM profile_history "
        "WHERE tenant_id = $1 AND person_id = $2 AND ($3::bigint IS NULL OR version < $3) "
        "ORDER BY version DESC LIMIT $4", tenant, person, before, limit)
    return [SealedRow(*r.values()) for r in rows]
