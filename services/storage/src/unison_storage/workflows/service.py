"""Suspended workflows: suspend with an encrypted context and resume conditions, meet
conditions (events, approvals; timers and timeouts by the background pass; the
platform's own writes by triggers, in the writing transaction), resume exactly once.

The context is sealed with the tenant's data key, its AAD binding tenant, person,
workflow and suspension: a sealed context copied to another row or suspension fails to
open. Resume hands it out once: the call that moves the workflow to `resumed` wins,
every other one gets 409.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from unison_shared.auth import RequestContext
from unison_shared.crypto import CryptoError
from unison_shared.errors import BadRequest, Conflict, NotFound, UnisonError
from unison_shared.jsonutil import encode_jsonb

from ..keys.service import DataKeyService, KeyOwner
from ..settings import StorageOptions
from ..threads import cursor
from ..threads.payloads import Payloads, PayloadTxn
from . import repository as repo
from .schemas import (
    ApproveIn,
    ConditionOut,
    Resumed,
    SleepUntil,
    SuspendIn,
    Workflow,
    WorkflowPage,
)

logger = logging.getLogger("unison.storage.workflows")

AAD_KIND = "workflow-context"
_TARGETS = {"vault_secret_written": "name", "object_stored": "object_id", "event": "event_id"}


class ContextIntegrityError(UnisonError):
    status, code, title = 500, "integrity-error", "Stored context failed its integrity check"


def record_id(person: str, workflow_id: str, suspension: uuid.UUID) -> str:
    """The AAD record id a suspension's context is sealed with (also what the person
    export opens it with)."""
    return orjson.dumps([person, workflow_id, str(suspension)]).decode()


def missing(workflow_id: str) -> NotFound:
    return NotFound(f"no workflow {workflow_id}")


def condition_rows(body: SuspendIn) -> list[dict[str, Any]]:
    """The request's conditions plus the one its suspend reason implies (an event, an
    approval, a timer), unless the caller listed it already."""
    specs = [c.model_dump(mode="json") for c in body.resume_conditions]
    reason = body.suspend_reason
    implied: dict[str, Any] | None = None
    if reason.kind == "waiting_for_event":
        implied = {"kind": "event", "event_id": reason.event_id}
    elif reason.kind == "waiting_for_approval":
        implied = {"kind": "approval"}
    elif reason.kind == "sleep_until":
        implied = {"kind": "timer", "at": reason.model_dump(mode="json")["at"]}
    if implied is not None and not any(
            s["kind"] == implied["kind"] and s.get("event_id") == implied.get("event_id")
            for s in specs):
        specs.append(implied)
    rows = []
    for position, spec in enumerate(specs):
        kind = spec["kind"]
        target = spec.get(_TARGETS.get(kind, "namespace"), "") or ""
        rows.append({"position": position, "kind": kind, "target": target,
                     "target_key": spec.get("key", "") if kind == "kv_written" else "",
                     "due_at": spec.get("at") if kind == "timer" else None, "spec": spec})
    return rows


def _out(row: repo.Row, conds: list[repo.Cond]) -> Workflow:
    return Workflow(
        workflow_id=row.id, workflow_name=row.workflow_name, current_step=row.current_step,
        status=row.status,
        mode=row.mode, suspend_reason=row.suspend_reason, metadata=row.metadata,
        conditions=[ConditionOut(kind=c.kind, spec=c.spec, satisfied=c.satisfied_at is not None,
                                 satisfied_at=c.satisfied_at, detail=c.detail) for c in conds],
        context_bytes=row.context_bytes, suspensions=row.suspensions,
        timeout_at=row.timeout_at, timed_out=row.timed_out, created_at=row.created_at,
        suspended_at=row.suspended_at, resumable_at=row.resumable_at,
        finished_at=row.finished_at, updated_at=row.updated_at)


class WorkflowService:
    def __init__(self, keys: DataKeyService, payloads: Payloads,
                 options: StorageOptions) -> None:
        self.keys = keys
        self.payloads = payloads
        self.options = options

    async def suspend(self, ctx: RequestContext, workflow_id: str,
                      body: SuspendIn) -> Workflow:
        """One transaction. 409 while the workflow is still waiting; a workflow that
        has finished may be suspended again (its next suspension). A sealed context over
        `agent_state_inline_max_bytes` is an object of its own; the previous
        suspension's object goes."""
        plain = encode_jsonb(body.context_state, "context_state",
                             self.options.agent_state_max_bytes).encode()
        async with self.payloads.transaction(ctx) as (conn, txn):
            return await self._suspend(conn, txn, ctx, workflow_id, body, plain)

    async def _suspend(self, conn: asyncpg.Connection, txn: PayloadTxn, ctx: RequestContext,
                       workflow_id: str, body: SuspendIn, plain: bytes) -> Workflow:
        t, p = ctx.tenant_id, ctx.person_id
        suspension = uuid.uuid4()
        dek, blob = await self.keys.encrypt(conn, KeyOwner(t, p), AAD_KIND,
                                            record_id(p, workflow_id, suspension), plain)
        previous = await repo.lock_context_object(conn, t, p, workflow_id)
        inline: bytes | None = blob
        object_id = None
        if len(blob) > self.options.agent_state_inline_max_bytes:
            ref = await self.payloads.put_unique(conn, txn, ctx, f"workflow-{suspension.hex}",
                                                 blob, "workflow")
            inline, object_id = None, ref.id
        reason = body.suspend_reason
        # Only a declared field: a caller's own extra field of that name is not a timeout.
        timeout = None if isinstance(reason, SleepUntil) else reason.timeout_ms
        new = repo.NewWorkflow(
            id=workflow_id, name=body.workflow_name, step=body.current_step, mode=body.mode,
            reason=encode_jsonb(body.suspend_reason.model_dump(mode="json"), "suspend_reason",
                                self.options.max_json_bytes),
            metadata=encode_jsonb(body.metadata, "metadata", self.options.max_json_bytes),
            suspension_id=suspension, dek_version=dek, context_enc=inline,
            context_object_id=object_id, context_bytes=len(plain), timeout_ms=timeout,
            conditions=orjson.dumps(condition_rows(body)).decode())
        if not await repo.suspend(conn, t, p, new):
            raise Conflict(f"workflow {workflow_id} is already suspended; resume or cancel "
                           "it first")
        if previous is not None:
            await self.payloads.release(conn, txn, t, {previous})
        return await self.get(conn, ctx, workflow_id)

    async def get(self, conn: asyncpg.Connection, ctx: RequestContext,
                  workflow_id: str) -> Workflow:
        row = await repo.get(conn, ctx.tenant_id, ctx.person_id, workflow_id)
        if row is None:
            raise missing(workflow_id)
        conds = await repo.conditions(conn, ctx.tenant_id, ctx.person_id, [workflow_id])
        return _out(row, conds[workflow_id])

    async def page(self, conn: asyncpg.Connection, ctx: RequestContext, status: str | None,
                   name: str | None, after: str | None, limit: int) -> WorkflowPage:
        key = None
        if after is not None:
            at, last = cursor.decode("workflows", after, 2)
            key = (_timestamp(at), str(last))
        rows = await repo.page(conn, ctx.tenant_id, ctx.person_id, status, name, key,
                               limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        conds = await repo.conditions(conn, ctx.tenant_id, ctx.person_id, [r.id for r in rows])
        nxt = (cursor.encode("workflows", rows[-1].suspended_at.isoformat(), rows[-1].id)
               if more else None)
        return WorkflowPage(items=[_out(r, conds[r.id]) for r in rows], next_cursor=nxt)

    async def event(self, conn: asyncpg.Connection, ctx: RequestContext, event_id: str,
                    payload: Any) -> list[str]:
        detail = encode_jsonb({"event_id": event_id, "payload": payload}, "payload",
                              self.options.max_json_bytes)
        return await repo.match(conn, ctx.tenant_id, ctx.person_id, "event", event_id, detail)

    async def approve(self, conn: asyncpg.Connection, ctx: RequestContext, workflow_id: str,
                      body: ApproveIn) -> Workflow:
        """In the caller's transaction."""
        detail = orjson.dumps({"decision": body.decision, "comment": body.comment,
                               "by": ctx.person_id}).decode()
        status = await repo.decide(conn, ctx.tenant_id, ctx.person_id, workflow_id, detail,
                                   body.decision == "approve")
        if status is None:
            current = await self.get(conn, ctx, workflow_id)  # 404 when missing
            raise Conflict(f"workflow {workflow_id} is {current.status} and waits for no "
                           "approval")
        return await self.get(conn, ctx, workflow_id)

    async def cancel(self, conn: asyncpg.Connection, ctx: RequestContext,
                     workflow_id: str) -> Workflow:
        """In the caller's transaction."""
        if await repo.finish(conn, ctx.tenant_id, ctx.person_id, workflow_id,
                             "cancelled") is None:
            current = await self.get(conn, ctx, workflow_id)
            raise Conflict(f"workflow {workflow_id} is {current.status}: nothing to cancel")
        return await self.get(conn, ctx, workflow_id)

    async def resume(self, conn: asyncpg.Connection, ctx: RequestContext, workflow_id: str,
                     force: bool) -> Resumed:
        """In the caller's transaction: one call wins, any other is 409."""
        t, p = ctx.tenant_id, ctx.person_id
        taken = await repo.take(conn, t, p, workflow_id, force)
        if taken is None:
            current = await self.get(conn, ctx, workflow_id)
            if current.status == "suspended":
                raise Conflict(f"workflow {workflow_id}: its resume conditions do not hold "
                               "yet (force: true resumes it anyway)")
            raise Conflict(f"workflow {workflow_id} is {current.status}: it can be resumed "
                           "only once")
        await repo.close_conditions(conn, t, p, workflow_id)
        blob = taken.sealed
        if blob is None:
            blob = await self.payloads.read(taken.storage_key, taken.object_bytes)
        try:
            plain = await self.keys.decrypt(conn, KeyOwner(t, p), AAD_KIND,
                                            record_id(p, workflow_id, taken.suspension),
                                            taken.dek_version, blob)
        except CryptoError as exc:
            logger.error("workflow context failed its integrity check",
                         extra={"workflow_id": workflow_id})
            raise ContextIntegrityError("the stored context failed its integrity check") \
                from exc
        wf = await self.get(conn, ctx, workflow_id)
        by: list[dict[str, Any]] = [
            {"kind": c.kind, **c.spec, "satisfied_at": c.satisfied_at.isoformat(),
             "detail": c.detail} for c in wf.conditions if c.satisfied_at is not None]
        if wf.timed_out:
            by.insert(0, {"kind": "timeout", "timeout_ms": wf.suspend_reason.get("timeout_ms"),
                          "at": wf.timeout_at.isoformat() if wf.timeout_at else None})
        if taken.forced:
            by.append({"kind": "force", "by": p})
        return Resumed(workflow_id=workflow_id, context_state=orjson.loads(plain),
                       current_step=taken.step, resumed_by=by)


def _timestamp(value: Any) -> datetime:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise BadRequest("cursor: not one this service issued") from exc
