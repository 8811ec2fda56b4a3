"""Audit rules: an append-only, per-tenant hash chain.

Scoping: every event belongs to a tenant. A caller whose token names a person (or a
workload acting for one) lists and reads only events whose `person_id` is that person;
a workload token without a person sees the whole tenant. An event appended by a person
token without a `person_id` is recorded as concerning that person, so its author can
read it back. `verify` always walks the tenant's whole chain: it returns only a verdict,
never content.

Appends from every replica serialise on the tenant's audit_heads row (see repository),
so the chain stays linear: seq 1..N with no gaps, each event's prev_hash equal to the
hash of the event before it (the first links to 64 zeros).

A caller's event (`record`: the audit API) that names a person stores its free-form
payload sealed under that person's data key (sealing.py): after the person's erasure the
chain still verifies, and the payload reads back as `{"erased": true}`. The events other
domains append themselves (`append`, `prepare`: the vault's) carry only ids and numbers
(versions, counts), never free-form content, and are stored as they are.
"""

from __future__ import annotations

import base64
from dataclasses import asdict, replace
from datetime import UTC, datetime
from typing import Any

from unison_shared.auth import RequestContext
from unison_shared.database import Database, StatementConnection
from unison_shared.errors import BadRequest, Conflict
from unison_shared.jsonutil import encode_jsonb

from ..keys.service import DataKeyService
from . import repository, sealing
from .chain import GENESIS_HASH, event_hash, event_hash_v2
from .repository import EventFilter, EventRow, NewEvent
from .schemas import AuditEvent, AuditEventIn, AuditPage, VerifyResult

MAX_PAYLOAD_BYTES = 64 * 1024
VERIFY_BATCH = 500


def _to_event(row: EventRow, payload: dict[str, Any]) -> AuditEvent:
    return AuditEvent(seq=row.seq, id=row.id, actor=row.actor, action=row.action,
                      target=row.target, decision_id=row.decision_id, status=row.status,
                      person_id=row.person_id, payload=payload,
                      created_at=row.created_at, prev_hash=row.prev_hash, hash=row.hash)


def _link_hash(row: EventRow) -> str:
    """The hash the row's content implies, in the form its hash_version names."""
    if row.hash_version == 2 and row.payload_text is not None:
        return event_hash_v2(vars(row), row.payload_text)
    return event_hash(vars(row))


def encode_payload(payload: dict[str, Any]) -> str:
    return encode_jsonb(payload, "payload", MAX_PAYLOAD_BYTES)


class AuditService:
    def __init__(self, db: Database, keys: DataKeyService) -> None:
        self.db = db
        self.keys = keys
        self.repo = repository

    async def event_of(self, conn: StatementConnection, row: EventRow) -> AuditEvent:
        """The event as callers see it: its payload unsealed (or `{"erased": true}`)."""
        payload = await sealing.unseal(self.keys, conn, row.tenant_id, row.person_id,
                                       row.payload)
        return _to_event(row, payload)

    async def append(self, conn: StatementConnection, ctx: RequestContext,
                     event: AuditEventIn) -> AuditEvent:
        """Append one event to the tenant's hash chain inside the caller's transaction.

        The head stays locked until the caller's transaction ends, so keep that
        transaction short. A retry with an id already in the chain returns the first
        event unchanged. For a domain's own events: the payload is stored in clear, so it
        must hold ids and numbers only."""
        row, _ = await self.repo.append_event(conn, self.prepare(ctx, event))
        return await self.event_of(conn, row)

    async def seal(self, conn: StatementConnection, ctx: RequestContext,
                   event: AuditEventIn) -> NewEvent:
        """`prepare`, with the free-form payload sealed under the key of the person the
        event names (in clear for an event about no person)."""
        new = self.prepare(ctx, event)
        if not event.person_id:
            return new
        sealed = await sealing.seal(self.keys, conn, ctx.tenant_id, event.person_id,
                                    new.payload_json)
        return replace(new, payload_json=sealed)

    @staticmethod
    def prepare(ctx: RequestContext, event: AuditEventIn) -> NewEvent:
        """The event as a repository appends it, its payload in clear: for an event a
        domain builds itself, whose payload holds only ids and numbers (the vault's);
        a caller's free-form payload goes through `seal`."""
        return NewEvent(tenant_id=ctx.tenant_id, scope_person=ctx.person_id, id=event.id,
                        actor=event.actor, action=event.action, target=event.target,
                        decision_id=event.decision_id, status=event.status,
                        person_id=event.person_id, payload_json=encode_payload(event.payload))

    async def _append(self, conn: StatementConnection, ctx: RequestContext,
                      event: AuditEventIn) -> tuple[AuditEvent, bool]:
        row, created = await self.repo.append_event(conn, await self.seal(conn, ctx, event))
        return await self.event_of(conn, row), created

    async def record(self, ctx: RequestContext, event: AuditEventIn) -> tuple[AuditEvent, bool]:
        """Append on its own (the HTTP routes); returns (event, created). On PostgreSQL
        this is one statement in autocommit on a connection in the caller's scope."""
        if ctx.person_id and event.person_id is None:
            event = event.model_copy(update={"person_id": ctx.person_id})
        async with self.db.statement(ctx) as conn:
            appended, created = await self._append(conn, ctx, event)
        if not created and ctx.person_id and appended.person_id != ctx.person_id:
            # The id belongs to someone else's event: say so without showing it.
            raise Conflict("id: an event with this id already exists")
        return appended, created

    async def get(self, ctx: RequestContext, event_id: str) -> AuditEvent | None:
        async with self.db.statement(ctx) as conn:
            row = await self.repo.get(conn, ctx.tenant_id, event_id, ctx.person_id or None)
            return await self.event_of(conn, row) if row else None

    async def list(self, ctx: RequestContext, f: EventFilter, cursor: str | None,
                   limit: int, ascending: bool) -> AuditPage:
        if ctx.person_id:
            # The identity rule already refused any other person; pin the filter to the
            # caller so a person never sees events about someone else.
            f = EventFilter(**{**asdict(f), "person_id": ctx.person_id})
        f = EventFilter(**{**asdict(f), "since": _utc("since", f.since),
                           "until": _utc("until", f.until)})
        after = _decode_cursor(cursor, ascending) if cursor else None
        async with self.db.statement(ctx) as conn:
            rows = await self.repo.list_events(conn, ctx.tenant_id, f, after, ascending, limit + 1)
            more = len(rows) > limit
            rows = rows[:limit]
            items = [await self.event_of(conn, r) for r in rows]
        next_cursor = _encode_cursor(rows[-1].seq, ascending) if more else None
        return AuditPage(items=items, next_cursor=next_cursor)

    async def verify(self, ctx: RequestContext, pinned: dict[int, str] | None = None,
                     batch: int = VERIFY_BATCH) -> VerifyResult:
        """Recompute the tenant's chain up to the head seen at the start, batch by batch
        (never the whole chain in memory); report the first broken link. `pinned`
        (seq -> hash, from signed checkpoints) must all be on the chain as they were;
        a row past the head is not on the chain and fails it too."""
        pinned = pinned or {}
        async with self.db.statement(ctx) as conn:
            head = await self.repo.get_head(conn, ctx.tenant_id)
            stray = await self.repo.first_past_head(conn, ctx.tenant_id,
                                                    head.seq if head else 0)
        if stray is not None:
            return VerifyResult(valid=False, checked=0, first_broken_seq=stray,
                                reason=f"event {stray} lies past the chain head: it was not "
                                       "appended through the chain")
        top = head.seq if head else 0
        if pinned and max(pinned) > top:
            return VerifyResult(valid=False, checked=0, first_broken_seq=top + 1,
                                reason=f"a signed checkpoint is at event {max(pinned)} but "
                                       f"the chain ends at {top}: events were removed")
        if head is None:
            return VerifyResult(valid=True, checked=0)
        prev_hash, expected, checked = GENESIS_HASH, 1, 0

        def broken(seq: int, reason: str) -> VerifyResult:
            return VerifyResult(valid=False, checked=checked, first_broken_seq=seq,
                                reason=reason)

        while expected <= head.seq:
            async with self.db.statement(ctx) as conn:
                rows = await self.repo.chain_batch(conn, ctx.tenant_id, expected - 1, head.seq,
                                              batch)
            if not rows:
                return broken(expected, f"event {expected} is missing")
            for row in rows:
                if row.seq != expected:
                    return broken(expected, f"event {expected} is missing")
                if row.prev_hash != prev_hash:
                    return broken(row.seq, "prev_hash does not match the previous event's hash")
                if _link_hash(row) != row.hash:
                    return broken(row.seq, "hash does not match the event's content")
                if pinned.get(row.seq, row.hash) != row.hash:
                    return broken(row.seq, "the chain differs from a signed checkpoint at "
                                           "this event: rewritten since it was signed")
                prev_hash, expected, checked = row.hash, expected + 1, checked + 1
        if prev_hash != head.hash:
            return broken(head.seq, "the chain head does not match the last event")
        return VerifyResult(valid=True, checked=checked)


def _utc(field: str, value: datetime | None) -> datetime | None:
    """Query times in UTC; a time without an offset is taken as UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise BadRequest(f"{field}: out of range") from exc


def _encode_cursor(seq: int, ascending: bool) -> str:
    return base64.urlsafe_b64encode(f"{'a' if ascending else 'd'}:{seq}".encode()).decode()


def _decode_cursor(cursor: str, ascending: bool) -> int:
    try:
        direction, _, seq = base64.b64decode(cursor.encode(), altchars=b"-_",
                                             validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("cursor is not one this service issued") from exc
    if not (seq.isascii() and seq.isdigit() and len(seq) <= 18) or direction not in ("a", "d"):
        raise BadRequest("cursor is not one this service issued")
    if (direction == "a") != ascending:
        raise BadRequest("cursor was issued for the other order")
    return int(seq)
