"""SQL for workflows and their conditions. Meeting a condition and the step to
`resumable` are the database functions of migration 0014 (`workflow_match`,
`workflow_refresh`), shared with the triggers on the platform's writes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

_SCOPE = "tenant_id = $1 AND person_id = $2"
_COLS = ("id, workflow_name, current_step, status, mode, suspend_reason, metadata, "
         "context_bytes, suspensions, timeout_at, timed_out, created_at, suspended_at, "
         "resumable_at, finished_at, updated_at")
_CONDS = ("SELECT workflow_id, kind, spec, satisfied_at, detail FROM workflow_conditions "
          "WHERE tenant_id = $1 AND person_id = $2 AND workflow_id = ANY($3::text[]) "
          "ORDER BY workflow_id, position")


@dataclass(frozen=True)
class Row:
    id: str
    workflow_name: str
    current_step: str
    status: str
    mode: str
    suspend_reason: dict[str, Any]
    metadata: dict[str, Any]
    context_bytes: int
    suspensions: int
    timeout_at: datetime | None
    timed_out: bool
    created_at: datetime
    suspended_at: datetime
    resumable_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True)
class Cond:
    kind: str
    spec: dict[str, Any]
    satisfied_at: datetime | None
    detail: dict[str, Any] | None


@dataclass(frozen=True)
class NewWorkflow:
    id: str
    name: str
    step: str
    mode: str
    reason: str  # JSON text
    metadata: str  # JSON text
    suspension_id: uuid.UUID
    dek_version: int
    context_enc: bytes | None
    context_object_id: str | None
    context_bytes: int
    timeout_ms: int | None
    conditions: str  # JSON array of {position, kind, target, target_key, due_at, spec}


# A new suspension, or the next one of a workflow that has finished (resumed, rejected,
# cancelled); nothing when it is still waiting (the caller answers 409).
_UPSERT = f"""
INSERT INTO workflows AS w (tenant_id, person_id, id, workflow_name, current_step, status,
    mode, suspend_reason, metadata, suspension_id, dek_version, context_enc, context_bytes,
    timeout_at, context_object_id)
VALUES ($1, $2, $3, $4, $5, 'suspended', $6, $7::jsonb, $8::jsonb, $9, $10, $11, $12,
        now() + $13::bigint * interval '1 millisecond', $14)
ON CONFLICT (tenant_id, person_id, id) DO UPDATE SET
    workflow_name = EXCLUDED.workflow_name, current_step = EXCLUDED.current_step,
    status = 'suspended', mode = EXCLUDED.mode, suspend_reason = EXCLUDED.suspend_reason,
    metadata = EXCLUDED.metadata, suspension_id = EXCLUDED.suspension_id,
    suspensions = w.suspensions + 1, dek_version = EXCLUDED.dek_version,
    context_enc = EXCLUDED.context_enc, context_bytes = EXCLUDED.context_bytes,
    context_object_id = EXCLUDED.context_object_id,
    timeout_at = EXCLUDED.timeout_at, timed_out = false, forced = false,
    suspended_at = now(), resumable_at = NULL, finished_at = NULL, updated_at = now()
WHERE w.status IN ('resumed', 'rejected', 'cancelled')
RETURNING {_COLS}"""

_INSERT_CONDITIONS = """
INSERT INTO workflow_conditions (tenant_id, person_id, workflow_id, position, kind, target,
                                 target_key, due_at, spec, satisfied_at, detail)
SELECT $1, $2, $3, c.position, c.kind, c.target, c.target_key, c.due_at, c.spec,
       CASE WHEN c.due_at <= now() THEN now() END,
       CASE WHEN c.due_at <= now() THEN jsonb_build_object('at', c.due_at) END
FROM jsonb_to_recordset($4::jsonb) AS c(position integer, kind text, target text,
                                        target_key text, due_at timestamptz, spec jsonb)"""


async def lock_context_object(pg: asyncpg.Connection, tenant: str, person: str,
                              workflow_id: str) -> str | None:
    """The object holding the workflow's current context, if any, with the row locked
    (a re-suspension replaces it)."""
    found: str | None = await pg.fetchval(
        f"SELECT context_object_id FROM workflows WHERE {_SCOPE} AND id = $3 FOR UPDATE",
        tenant, person, workflow_id)
    return found


async def suspend(pg: asyncpg.Connection, tenant: str, person: str,
                  new: NewWorkflow) -> bool:
    """In the caller's transaction: the workflow, its conditions, and the step to
    resumable when they already hold. False when the workflow is still waiting."""
    row = await pg.fetchrow(_UPSERT, tenant, person, new.id, new.name, new.step, new.mode,
                            new.reason, new.metadata, new.suspension_id, new.dek_version,
                            new.context_enc, new.context_bytes, new.timeout_ms,
                            new.context_object_id)
    if row is None:
        return False
    await pg.execute("DELETE FROM workflow_conditions WHERE tenant_id = $1 AND person_id = $2 "
                     "AND workflow_id = $3", tenant, person, new.id)
    await pg.execute(_INSERT_CONDITIONS, tenant, person, new.id, new.conditions)
    await pg.fetchval("SELECT workflow_refresh($1, $2, $3)", tenant, person, new.id)
    return True


def _row(record: asyncpg.Record) -> Row:
    return Row(*record.values())


async def get(pg: asyncpg.Connection, tenant: str, person: str,
              workflow_id: str) -> Row | None:
    record = await pg.fetchrow(f"SELECT {_COLS} FROM workflows WHERE {_SCOPE} AND id = $3",
                               tenant, person, workflow_id)
    return _row(record) if record else None


async def conditions(pg: asyncpg.Connection, tenant: str, person: str,
                     ids: list[str]) -> dict[str, list[Cond]]:
    found: dict[str, list[Cond]] = {i: [] for i in ids}
    for r in await pg.fetch(_CONDS, tenant, person, ids):
        found[r[0]].append(Cond(r[1], r[2], r[3], r[4]))
    return found


async def page(pg: asyncpg.Connection, tenant: str, person: str, status: str | None,
               name: str | None, after: tuple[datetime, str] | None, limit: int) -> list[Row]:
    records = await pg.fetch(
        f"SELECT {_COLS} FROM workflows WHERE {_SCOPE} "
        "AND ($3::text IS NULL OR status = $3) AND ($4::text IS NULL OR workflow_name = $4) "
        "AND ($5::timestamptz IS NULL OR (suspended_at, id) < ($5, $6::text)) "
        "ORDER BY suspended_at DESC, id DESC LIMIT $7",
        tenant, person, status, name, after[0] if after else None,
        after[1] if after else None, limit)
    return [_row(r) for r in records]


async def match(pg: asyncpg.Connection, tenant: str, person: str, kind: str, target: str,
                detail: str) -> list[str]:
    """Meet the open conditions of this kind and target; the workflows they belong to."""
    ids: list[str] = await pg.fetchval("SELECT workflow_match($1, $2, $3, $4, '', $5::jsonb)",
                                       tenant, person, kind, target, detail)
    return ids


async def decide(pg: asyncpg.Connection, tenant: str, person: str, workflow_id: str,
                 detail: str, approve: bool) -> str | None:
    """Approve (meet the open approval conditions) or reject (the workflow ends) a
    workflow still waiting with an approval condition: its status after, or None when it
    has none open (or is no longer waiting)."""
    hit = await pg.fetchval(
        "UPDATE workflow_conditions c SET satisfied_at = clock_timestamp(), "
        "detail = $4::jsonb FROM workflows w WHERE w.tenant_id = $1 AND w.person_id = $2 "
        "AND w.id = $3 AND w.status IN ('suspended', 'resumable') "
        "AND c.tenant_id = w.tenant_id AND c.person_id = w.person_id "
        "AND c.workflow_id = w.id AND c.kind = 'approval' AND c.satisfied_at IS NULL "
        "AND NOT c.closed RETURNING c.workflow_id", tenant, person, workflow_id, detail)
    if hit is None:
        return None
    if not approve:
        return await finish(pg, tenant, person, workflow_id, "rejected")
    status: str = await pg.fetchval("SELECT workflow_refresh($1, $2, $3)",
                                    tenant, person, workflow_id)
    return status


async def finish(pg: asyncpg.Connection, tenant: str, person: str, workflow_id: str,
                 status: str) -> str | None:
    """End a waiting workflow (rejected, cancelled) and close its open conditions."""
    done = await pg.fetchval(
        "UPDATE workflows SET status = $4, finished_at = clock_timestamp(), "
        f"updated_at = clock_timestamp() WHERE {_SCOPE} AND id = $3 "
        "AND status IN ('suspended', 'resumable') RETURNING status",
        tenant, person, workflow_id, status)
    if done is not None:
        await close_conditions(pg, tenant, person, workflow_id)
    return None if done is None else str(done)


async def close_conditions(pg: asyncpg.Connection, tenant: str, person: str,
                           workflow_id: str) -> None:
    await pg.execute("UPDATE workflow_conditions SET closed = true WHERE tenant_id = $1 "
                     "AND person_id = $2 AND workflow_id = $3 AND NOT closed",
                     tenant, person, workflow_id)


@dataclass(frozen=True)
class Taken:
    step: str
    dek_version: int
    sealed: bytes | None  # None: in the object below
    storage_key: str | None
    object_bytes: int
    suspension: uuid.UUID
    forced: bool


async def take(pg: asyncpg.Connection, tenant: str, person: str, workflow_id: str,
               force: bool) -> Taken | None:
    """The single use: move the workflow to resumed (from resumable, or with `force`
    from suspended too) and return its sealed context; None when another call took it
    or it may not be resumed."""
    record = await pg.fetchrow(
        "UPDATE workflows w SET forced = (w.status = 'suspended'), status = 'resumed', "
        "finished_at = clock_timestamp(), updated_at = clock_timestamp() "
        f"WHERE {_SCOPE} AND id = $3 AND (status = 'resumable' "
        "OR ($4 AND status = 'suspended')) "
        "RETURNING current_step, dek_version, context_enc, "
        "(SELECT o.storage_key FROM objects o WHERE o.tenant_id = w.tenant_id "
        " AND o.id = w.context_object_id), "
        "(SELECT o.size_bytes FROM objects o WHERE o.tenant_id = w.tenant_id "
        " AND o.id = w.context_object_id), suspension_id, forced",
        tenant, person, workflow_id, force)
    if record is None:
        return None
    return Taken(record[0], record[1], record[2], record[3], record[4] or 0, record[5],
                 record[6])


async def fire_timers(conn: AsyncConnection, batch: int) -> int:
    """System pass: meet at most `batch` due timer conditions (rows another replica is
    working on are skipped) and refresh their workflows, in the caller's transaction."""
    rows = (await conn.execute(text(
        "WITH due AS MATERIALIZED (SELECT tenant_id, person_id, workflow_id, position "
        "  FROM workflow_conditions WHERE kind = 'timer' AND satisfied_at IS NULL "
        "  AND NOT closed AND due_at <= now() ORDER BY due_at LIMIT :b "
        "  FOR UPDATE SKIP LOCKED), "
        "hit AS (UPDATE workflow_conditions c SET satisfied_at = clock_timestamp(), "
        "  detail = jsonb_build_object('at', c.due_at) FROM due "
        "  WHERE c.tenant_id = due.tenant_id AND c.person_id = due.person_id "
        "  AND c.workflow_id = due.workflow_id AND c.position = due.position "
        "  RETURNING c.tenant_id, c.person_id, c.workflow_id) "
        "SELECT tenant_id, person_id, workflow_id, count(*) FROM hit "
        "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"), {"b": batch})).all()
    for tenant, person, workflow_id, _ in rows:
        await conn.execute(text("SELECT workflow_refresh(:t, :p, :w)"),
                           {"t": tenant, "p": person, "w": workflow_id})
    return sum(int(r[3]) for r in rows)


async def fire_timeouts(conn: AsyncConnection, batch: int) -> int:
    """System pass: at most `batch` waiting workflows past their timeout become
    resumable, marked timed out (rows another replica holds are skipped)."""
    result = await conn.execute(text(
        "WITH due AS MATERIALIZED (SELECT tenant_id, person_id, id FROM workflows "
        "  WHERE status = 'suspended' AND timeout_at <= now() ORDER BY timeout_at "
        "  LIMIT :b FOR UPDATE SKIP LOCKED) "
        "UPDATE workflows w SET status = 'resumable', timed_out = true, "
        "  resumable_at = clock_timestamp(), updated_at = clock_timestamp() FROM due "
        "WHERE w.tenant_id = due.tenant_id AND w.person_id = due.person_id "
        "AND w.id = due.id"), {"b": batch})
    return int(result.rowcount or 0)
