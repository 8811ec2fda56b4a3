"""SQL for audit_events and audit_heads.

audit_heads has one row per tenant; locking it (an upsert that always touches the row)
is what serialises appends from every replica, so each tenant keeps one chain with
contiguous sequence numbers. The events table only ever receives INSERTs (its triggers
refuse the rest).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

_COLS = ("tenant_id, seq, id, actor, action, target, decision_id, status, person_id, "
         "payload, created_at, prev_hash, hash")


@dataclass(frozen=True)
class EventRow:
    tenant_id: str
    seq: int
    id: str
    actor: str | None
    action: str
    target: str | None
    decision_id: str | None
    status: str | None
    person_id: str | None
    payload: dict[str, Any]
    created_at: datetime
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Head:
    seq: int
    hash: str


@dataclass(frozen=True)
class EventFilter:
    actor: str | None = None
    action: str | None = None
    target: str | None = None
    person_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def lock_head(conn: AsyncConnection, tenant: str, genesis: str,
                    payload_json: str) -> tuple[Head, dict[str, Any]]:
    """Lock (creating if needed) the tenant's chain head until the transaction ends.

    Under READ COMMITTED a waiting upsert re-reads the row once the holder commits, so
    the head returned is always the latest. The payload rides along to come back in the
    exact form jsonb stores it, which is the form the hash must cover."""
    row = (await conn.execute(text(
        "INSERT INTO audit_heads AS h (tenant_id, seq, hash) VALUES (:t, 0, :g) "
        "ON CONFLICT (tenant_id) DO UPDATE SET seq = h.seq "
        "RETURNING h.seq, h.hash, CAST(:p AS jsonb)"),
        {"t": tenant, "g": genesis, "p": payload_json})).one()
    return Head(row[0], row[1]), row[2]


async def get_head(conn: AsyncConnection, tenant: str) -> Head | None:
    row = (await conn.execute(text(
        "SELECT seq, hash FROM audit_heads WHERE tenant_id = :t"), {"t": tenant})).first()
    return Head(row[0], row[1]) if row else None


async def append(conn: AsyncConnection, event: dict[str, Any], payload_json: str) -> None:
    """Insert the event and move the tenant's head to it, in one round trip (the head row
    is already locked by `lock_head` in this transaction)."""
    await conn.execute(text(
        f"WITH ins AS (INSERT INTO audit_events ({_COLS}) VALUES (:tenant_id, :seq, :id, "
        ":actor, :action, :target, :decision_id, :status, :person_id, "
        "CAST(:payload AS jsonb), :created_at, :prev_hash, :hash) "
        "RETURNING tenant_id, seq, hash) "
        "UPDATE audit_heads SET seq = ins.seq, hash = ins.hash FROM ins "
        "WHERE audit_heads.tenant_id = ins.tenant_id"), {**event, "payload": payload_json})


async def get(conn: AsyncConnection, tenant: str, event_id: str,
              person: str | None = None) -> EventRow | None:
    """One event by id; with `person`, only if it concerns that person."""
    cond = " AND person_id = :p" if person is not None else ""
    row = (await conn.execute(text(
        f"SELECT {_COLS} FROM audit_events WHERE tenant_id = :t AND id = :id{cond}"),
        {"t": tenant, "id": event_id, "p": person})).first()
    return EventRow(*row) if row else None


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
         "person_id": f.person_id, "since": f.since, "until": f.until, "after": after_seq,
         "lim": limit})).all()
    return [EventRow(*r) for r in rows]


async def chain_batch(conn: AsyncConnection, tenant: str, after_seq: int, upto_seq: int,
                      limit: int) -> list[EventRow]:
    """The next run of the chain, in sequence order, for verification."""
    rows = (await conn.execute(text(
        f"SELECT {_COLS} FROM audit_events WHERE tenant_id = :t AND seq > :after "
        "AND seq <= :upto ORDER BY seq LIMIT :lim"),
        {"t": tenant, "after": after_seq, "upto": upto_seq, "lim": limit})).all()
    return [EventRow(*r) for r in rows]
