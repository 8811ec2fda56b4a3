"""SQL for audit_events and audit_heads on SQLite (development only): the same functions
and meaning as `repository` (PostgreSQL). Every query names the tenant: with no row-level
security on SQLite, that filter is the only tenant fence.

Appends serialise because every transaction begins with BEGIN IMMEDIATE (SQLite's one
write lock, held from the first statement), so each tenant keeps one chain with
contiguous sequence numbers. The events table only ever receives INSERTs: its triggers
abort UPDATE and DELETE. The payload is stored as the JSON text the service encoded and
hashed in its decoded form, which is also what every read returns, so `verify` sees
exactly what `append` hashed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from ..sqlite_values import loads, parse_ts, ts
from .repository import EventFilter, EventRow, Head

_COLS = ("tenant_id, seq, id, actor, action, target, decision_id, status, person_id, "
         "payload, created_at, prev_hash, hash")


def _event(r: Sequence[Any]) -> EventRow:
    return EventRow(tenant_id=r[0], seq=int(r[1]), id=r[2], actor=r[3], action=r[4],
                    target=r[5], decision_id=r[6], status=r[7], person_id=r[8],
                    payload=loads(r[9]), created_at=parse_ts(r[10]), prev_hash=r[11],
                    hash=r[12])


async def lock_head(conn: AsyncConnection, tenant: str, genesis: str,
                    payload_json: str) -> tuple[Head, dict[str, Any]]:
    """The tenant's chain head (created if needed); the transaction's write lock keeps it
    current until the transaction ends. The payload comes back decoded, the form the hash
    covers."""
    row = (await conn.execute(text(
        "INSERT INTO audit_heads (tenant_id, seq, hash) VALUES (:t, 0, :g) "
        "ON CONFLICT (tenant_id) DO UPDATE SET seq = audit_heads.seq RETURNING seq, hash"),
        {"t": tenant, "g": genesis})).one()
    payload: dict[str, Any] = loads(payload_json)
    return Head(int(row[0]), str(row[1])), payload


async def get_head(conn: AsyncConnection, tenant: str) -> Head | None:
    row = (await conn.execute(text(
        "SELECT seq, hash FROM audit_heads WHERE tenant_id = :t"), {"t": tenant})).first()
    return Head(int(row[0]), str(row[1])) if row else None


async def append(conn: AsyncConnection, event: dict[str, Any], payload_json: str) -> None:
    """Insert the event and move the tenant's head to it."""
    await conn.execute(text(
        f"INSERT INTO audit_events ({_COLS}) VALUES (:tenant_id, :seq, :id, :actor, "
        ":action, :target, :decision_id, :status, :person_id, :payload, :created_at, "
        ":prev_hash, :hash)"),
        {**event, "payload": payload_json, "created_at": ts(event["created_at"])})
    await conn.execute(text(
        "UPDATE audit_heads SET seq = :seq, hash = :hash WHERE tenant_id = :tenant_id"),
        {"tenant_id": event["tenant_id"], "seq": event["seq"], "hash": event["hash"]})


async def get(conn: AsyncConnection, tenant: str, event_id: str,
              person: str | None = None) -> EventRow | None:
    """One event by id; with `person`, only if it concerns that person."""
    cond = " AND person_id = :p" if person is not None else ""
    row = (await conn.execute(text(
        f"SELECT {_COLS} FROM audit_events WHERE tenant_id = :t AND id = :id{cond}"),
        {"t": tenant, "id": event_id, "p": person})).first()
    return _event(row) if row else None


async def list_events(conn: AsyncConnection, tenant: str, f: EventFilter,
                      after_seq: int | None, ascending: bool, limit: int) -> list[EventRow]:
    # Each predicate is a constant fragment; every value is a bound parameter.
    conds = ["tenant_id = :t"]
    fields = (("actor", f.actor), ("action", f.action), ("target", f.target),
              ("person_id", f.person_id))
    conds += [f"{name} = :{name}" for name, value in fields if value is not None]
    if f.since is not None:
        conds.append("created_at >= :since")
    if f.until is not None:
        conds.append("created_at < :until")
    if after_seq is not None:
        conds.append("seq > :after" if ascending else "seq < :after")
    order = "ASC" if ascending else "DESC"
    rows = (await conn.execute(text(
        f"SELECT {_COLS} FROM audit_events WHERE {' AND '.join(conds)} "
        f"ORDER BY seq {order} LIMIT :lim"),
        {"t": tenant, "actor": f.actor, "action": f.action, "target": f.target,
         "person_id": f.person_id, "since": None if f.since is None else ts(f.since),
         "until": None if f.until is None else ts(f.until), "after": after_seq,
         "lim": limit})).all()
    return [_event(r) for r in rows]


async def chain_batch(conn: AsyncConnection, tenant: str, after_seq: int, upto_seq: int,
                      limit: int) -> list[EventRow]:
    """The next run of the chain, in sequence order, for verification."""
    rows = (await conn.execute(text(
        f"SELECT {_COLS} FROM audit_events WHERE tenant_id = :t AND seq > :after "
        "AND seq <= :upto ORDER BY seq LIMIT :lim"),
        {"t": tenant, "after": after_seq, "upto": upto_seq, "lim": limit})).all()
    return [_event(r) for r in rows]
