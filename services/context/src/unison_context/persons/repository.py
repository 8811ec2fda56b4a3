"""SQL of person erasure and export: every table that holds a person's rows. Table names
come from the constant list below, never from a request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from ..kv.repository import KVRow

# (receipt domain, table), in deletion order: messages before their sessions (the
# cascade would hide their count), the data keys last (kept apart: keys_destroyed).
ERASED_TABLES: tuple[tuple[str, str], ...] = (
    ("profile_history", "profile_history"),
    ("profile", "profiles"),
    ("credentials", "profile_credentials"),
    ("dashboard", "dashboards"),
    ("conversation_messages", "conversation_messages"),
    ("conversation_sessions", "conversation_sessions"),
    ("kv", "context_kv"),
)
_TABLES = frozenset(table for _, table in ERASED_TABLES)
_SCOPE = "tenant_id = $1 AND person_id = $2"


@dataclass(frozen=True)
class CredentialRow:
    kind: str
    hash: str
    updated_at: datetime


async def delete_rows(pg: asyncpg.Connection, table: str, tenant: str, person: str) -> int:
    if table not in _TABLES:  # a constant of this module, never caller input
        raise ValueError(table)
    status: str = await pg.execute(f"DELETE FROM {table} WHERE {_SCOPE}", tenant, person)
    return int(status.split()[-1])


async def credentials(pg: asyncpg.Connection, tenant: str, person: str) -> list[CredentialRow]:
    rows = await pg.fetch(f"SELECT kind, hash, updated_at FROM profile_credentials "
                          f"WHERE {_SCOPE} ORDER BY kind", tenant, person)
    return [CredentialRow(*r.values()) for r in rows]


async def kv_page(pg: asyncpg.Connection, tenant: str, person: str, after: str | None,
                  limit: int) -> list[tuple[KVRow, datetime]]:
    """The person's KV rows in key order, after a key (a page)."""
    rows = await pg.fetch(
        f"SELECT key, tier, ciphertext, dek_version, updated_at FROM context_kv "
        f"WHERE {_SCOPE} AND ($3::text IS NULL OR key > $3) ORDER BY key LIMIT $4",
        tenant, person, after, limit)
    return [(KVRow(r[0], r[1], r[2], r[3]), r[4]) for r in rows]
