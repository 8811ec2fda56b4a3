"""SQL for audit_events and audit_heads on SQLite (development only): the same functions
and meaning as `repository` (PostgreSQL). Every query names the tenant: with no row-level
security on SQLite, that filter is the only tenant fence.

Appends serialise because every transaction begins with BEGIN IMMEDIATE (SQLite's one
write lock, held from the first statement), so each tenant keeps one chain with
contiguous sequence numbers. SQLite cannot compute a hash, so events here are linked in
Python with the v1 form (audit/chain.py); PostgreSQL computes v2 in the append itself.
The events table only ever receives INSERTs: its triggers abort UPDATE and DELETE. The
payload is stored as the JSON text the service encoded and
hashed in its decoded form, which is also what every read returns, so `verify` sees
exactly what `append` hashed.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from ..database import StatementConnection, sqlite_connection
from ..sqlite_values import loads, parse_ts, ts
from .chain import GENESIS_HASH, event_hash
from .repository import EventFilter, EventRow, Head, NewEvent, get_sql, list_params, list_sql

_COLS = ("tenant_id, seq, id, actor, action, target, decision_id, status, person_id, "
         "payload, created_at, prev_hash, hash")


def _event(r: Sequence[Any]) -> EventRow:
    return EventRow(tenant_id=r[0], seq=int(r[1]), id=r[2], actor=r[3], action=r[4],
                    target=r[5], decision_id=r[6], status=r[7], person_id=r[8],
                    payload=loads(r[9]), created_at=parse_ts(r[10]), prev_hash=r[11],
                    hash=r[12])


async def append_event(conn: StatementConnection,
                       event: NewEvent) -> tuple[EventRow, bool]:
    """Append (or find the retried) event; returns it and whether this call created it.
    The first statement takes the tenant's head row, under the transaction's write lock
    until it ends."""
    db = sqlite_connection(conn)
    t = event.tenant_id
    head = (await db.execute(text(
        "INSERT INTO audit_heads (tenant_id, seq, hash) VALUES (:t, 0, :g) "
        "ON CONFLICT (tenant_id) DO UPDATE SET seq = audit_heads.seq RETURNING seq, hash"),
        {"t": t, "g": GENESIS_HASH})).one()
    if event.id is not None:
        existing = await get(db, t, event.id)
        if existing is not None:
            return existing, False
    row = EventRow(tenant_id=t, seq=int(head[0]) + 1, id=event.id or str(uuid.uuid4()),
                   actor=event.actor, action=event.action, target=event.target,
                   decision_id=event.decision_id, status=event.status,
                   person_id=event.person_id, payload=loads(event.payload_json),
                   created_at=datetime.now(UTC), prev_hash=str(head[1]), hash="")
    fields = dict(vars(row))
    fields["hash"] = event_hash(fields)
    await db.execute(text(
        f"INSERT INTO audit_events ({_COLS}) VALUES (:tenant_id, :seq, :id, :actor, "
        ":action, :target, :decision_id, :status, :person_id, :payload, :created_at, "
        ":prev_hash, :hash)"),
        {**fields, "payload": event.payload_json, "created_at": ts(row.created_at)})
    await db.execute(text(
        "UPDATE audit_heads SET seq = :seq, hash = :hash WHERE tenant_id = :t"),
        {"t": t, "seq": row.seq, "hash": fields["hash"]})
    return EventRow(**fields), True


async def get_head(conn: AsyncConnection, tenant: str) -> Head | None:
    row = (await conn.execute(text(
        "SELECT seq, hash FROM audit_heads WHERE tenant_id = :t"), {"t": tenant})).first()
    return Head(int(row[0]), str(row[1])) if row else None


async def get(conn: AsyncConnection, tenant: str, event_id: str,
              person: str | None = None) -> EventRow | None:
    """One event by id; with `person`, only if it concerns that person."""
    row = (await conn.execute(text(get_sql(person is not None)),
                              {"t": tenant, "id": event_id, "p": person})).first()
    return _event(row) if row else None


async def list_events(conn: AsyncConnection, tenant: str, f: EventFilter,
                      after_seq: int | None, ascending: bool, limit: int) -> list[EventRow]:
    rows = (await conn.execute(text(list_sql(f, after_seq, ascending)),
                               list_params(tenant, f, after_seq, limit, ts))).all()
    return [_event(r) for r in rows]


async def chain_batch(conn: AsyncConnection, tenant: str, after_seq: int, upto_seq: int,
                      limit: int) -> list[EventRow]:
    """The next run of the chain, in sequence order, for verification."""
    rows = (await conn.execute(text(
        f"SELECT {_COLS} FROM audit_events WHERE tenant_id = :t AND seq > :after "
        "AND seq <= :upto ORDER BY seq LIMIT :lim"),
        {"t": tenant, "after": after_seq, "upto": upto_seq, "lim": limit})).all()
    return [_event(r) for r in rows]
