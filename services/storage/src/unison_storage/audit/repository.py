"""SQL for audit_events and audit_heads.

Appends go through the `audit_append` SQL function (migration 0007): it locks the
tenant's audit_heads row (an upsert that always touches it, which serialises appends
from every replica, so each tenant keeps one chain with contiguous sequence numbers),
answers a retried id with the stored event, computes the v2 hash and moves the head,
in one round trip. The events table only ever receives INSERTs (its triggers refuse the
rest).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from unison_shared.database import StatementConnection, asyncpg_of, fetch, fetchrow
from unison_shared.sqlparams import Positional

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
    hash_version: int = 1
    payload_text: str | None = None  # jsonb's text form: what a v2 hash covers


@dataclass(frozen=True)
class NewEvent:
    """An event to append. `scope_person` is the caller's person ("" for a tenant-level
    caller): the scope the append runs in, not necessarily the event's `person_id`."""
    tenant_id: str
    scope_person: str
    id: str | None
    actor: str | None
    action: str
    target: str | None
    decision_id: str | None
    status: str | None
    person_id: str | None
    payload_json: str


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


async def append_event(conn: StatementConnection,
                       event: NewEvent) -> tuple[EventRow, bool]:
    """Append (or find the retried) event; returns it and whether this call created it.
    Runs in the caller's transaction, or on its own in autocommit."""
    pg = await asyncpg_of(conn)
    r = await pg.fetchrow(
        "SELECT * FROM audit_append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb)",
        event.tenant_id, event.scope_person, event.id, event.actor, event.action,
        event.target, event.decision_id, event.status, event.person_id,
        event.payload_json)
    assert r is not None  # the function always returns the event
    row = EventRow(tenant_id=event.tenant_id, seq=r["o_seq"], id=r["o_id"],
                   actor=r["o_actor"], action=r["o_action"], target=r["o_target"],
                   decision_id=r["o_decision_id"], status=r["o_status"],
                   person_id=r["o_person_id"], payload=json.loads(r["o_payload"]),
                   created_at=r["o_created_at"], prev_hash=r["o_prev_hash"],
                   hash=r["o_hash"], hash_version=2, payload_text=r["o_payload"])
    return row, bool(r["o_created"])


_HEAD = Positional.compile("SELECT seq, hash FROM audit_heads WHERE tenant_id = :t")


async def get_head(conn: StatementConnection, tenant: str) -> Head | None:
    row = await fetchrow(conn, _HEAD, {"t": tenant})
    return Head(row[0], row[1]) if row else None



# Only events on the chain are served: a row past the head was not appended through
# audit_append (someone with the owner role wrote it) and `verify` reports it.
_ON_CHAIN = ("seq <= coalesce((SELECT h.seq FROM audit_heads h WHERE h.tenant_id = :t), 0)")


def list_sql(f: EventFilter, after_seq: int | None, ascending: bool) -> str:
    """A page of events matching `f`. Each predicate is a constant fragment chosen by
    which filters are set; every value is a bound parameter (see `list_params`)."""
    conds = ["tenant_id = :t", _ON_CHAIN]
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
    return (f"SELECT {_COLS} FROM audit_events WHERE {' AND '.join(conds)} "
            f"ORDER BY seq {order} LIMIT :lim")


def list_params(tenant: str, f: EventFilter, after_seq: int | None, limit: int,
                db_time: Callable[[datetime], Any]) -> dict[str, Any]:
    """The parameters of `list_sql`; `db_time` turns a time into the backend's form."""
    return {"t": tenant, "actor": f.actor, "action": f.action, "target": f.target,
            "person_id": f.person_id,
            "since": None if f.since is None else db_time(f.since),
            "until": None if f.until is None else db_time(f.until),
            "after": after_seq, "lim": limit}


def get_sql(by_person: bool) -> str:
    """One event by :id, and with `by_person` only if it concerns :p (both backends)."""
    cond = " AND person_id = :p" if by_person else ""
    return (f"SELECT {_COLS} FROM audit_events WHERE tenant_id = :t AND id = :id "
            f"AND {_ON_CHAIN}{cond}")


@functools.lru_cache(maxsize=512)
def _compiled(sql: str) -> Positional:
    # A filter's statement depends only on which filters are set: a few hundred at most.
    return Positional.compile(sql)


async def get(conn: StatementConnection, tenant: str, event_id: str,
              person: str | None = None) -> EventRow | None:
    """One event by id; with `person`, only if it concerns that person."""
    row = await fetchrow(conn, _compiled(get_sql(person is not None)),
                         {"t": tenant, "id": event_id, "p": person})
    return EventRow(*row) if row else None


async def list_events(conn: StatementConnection, tenant: str, f: EventFilter,
                      after_seq: int | None, ascending: bool, limit: int) -> list[EventRow]:
    rows = await fetch(conn, _compiled(list_sql(f, after_seq, ascending)),
                       list_params(tenant, f, after_seq, limit, lambda t: t))
    return [EventRow(*r) for r in rows]


_CHAIN = Positional.compile(
    f"SELECT {_COLS}, hash_version, payload::text FROM audit_events "
    "WHERE tenant_id = :t AND seq > :after AND seq <= :upto ORDER BY seq LIMIT :lim")


_PAST_HEAD = Positional.compile(
    "SELECT min(seq) FROM audit_events WHERE tenant_id = :t AND seq > :head")


async def first_past_head(conn: StatementConnection, tenant: str, head_seq: int) -> int | None:
    """The lowest sequence number of a row past the chain head: one that is not on the
    chain (None when there is none)."""
    row = await fetchrow(conn, _PAST_HEAD, {"t": tenant, "head": head_seq})
    return None if row is None or row[0] is None else int(row[0])


async def chain_batch(conn: StatementConnection, tenant: str, after_seq: int, upto_seq: int,
                      limit: int) -> list[EventRow]:
    """The next run of the chain, in sequence order, for verification: with each row's
    hash version and its payload in jsonb's text form, which a v2 hash covers."""
    rows = await fetch(conn, _CHAIN, {"t": tenant, "after": after_seq, "upto": upto_seq,
                                      "lim": limit})
    return [EventRow(*r) for r in rows]
