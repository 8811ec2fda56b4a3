"""SQL for audit_checkpoints: signed chain heads, added and read, never changed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from unison_shared.database import StatementConnection, fetch, fetchrow
from unison_shared.sqlparams import Positional


@dataclass(frozen=True)
class CheckpointRow:
    seq: int
    hash: str
    signed_at: datetime
    key_id: str
    signature: bytes


_COLS = "seq, hash, signed_at, key_id, signature"
_INSERT = Positional.compile(
    "INSERT INTO audit_checkpoints (tenant_id, seq, hash, signed_at, key_id, signature) "
    "VALUES (:t, :seq, :hash, :at, :kid, :sig) ON CONFLICT DO NOTHING")
_PAGE = Positional.compile(
    f"SELECT {_COLS} FROM audit_checkpoints WHERE tenant_id = :t "
    "AND (CAST(:before AS bigint) IS NULL OR seq < :before) ORDER BY seq DESC LIMIT :lim")
_ALL = Positional.compile(f"SELECT {_COLS} FROM audit_checkpoints WHERE tenant_id = :t "
                          "ORDER BY seq")
# System job: the heads no checkpoint covers yet, every tenant.
_UNSIGNED_HEADS = Positional.compile(
    "SELECT h.tenant_id, h.seq, h.hash FROM audit_heads h WHERE h.seq > 0 AND NOT EXISTS "
    "(SELECT 1 FROM audit_checkpoints c WHERE c.tenant_id = h.tenant_id AND c.seq = h.seq) "
    "ORDER BY h.tenant_id LIMIT :lim")


async def insert(conn: StatementConnection, tenant: str, row: CheckpointRow) -> None:
    await fetchrow(conn, _INSERT, {"t": tenant, "seq": row.seq, "hash": row.hash,
                                   "at": row.signed_at, "kid": row.key_id,
                                   "sig": row.signature})


async def page(conn: StatementConnection, tenant: str, before_seq: int | None,
               limit: int) -> list[CheckpointRow]:
    rows = await fetch(conn, _PAGE, {"t": tenant, "before": before_seq, "lim": limit})
    return [CheckpointRow(*r) for r in rows]


async def all_of(conn: StatementConnection, tenant: str) -> list[CheckpointRow]:
    return [CheckpointRow(*r) for r in await fetch(conn, _ALL, {"t": tenant})]


async def unsigned_heads(conn: StatementConnection,
                         limit: int) -> list[tuple[str, int, str]]:
    rows = await fetch(conn, _UNSIGNED_HEADS, {"lim": limit})
    return [(str(r[0]), int(r[1]), str(r[2])) for r in rows]
