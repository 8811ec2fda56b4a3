"""SQL for threads. Every statement names the caller's tenant and person: another
person's thread is simply not found."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from .schemas import Thread

COLS = ("id, person_id, agent_name, title, status, metadata, message_count, state_version, "
        "created_at, updated_at")
SCOPE = "tenant_id = $1 AND person_id = $2"


@dataclass(frozen=True)
class ThreadFilter:
    agent_name: str | None = None
    status: str | None = None


def _row(record: asyncpg.Record) -> Thread:
    return Thread(**record)


async def insert(pg: asyncpg.Connection, tenant: str, person: str, thread_id: str,
                 agent_name: str, title: str | None, status: str, metadata_json: str) -> Thread:
    return _row(await pg.fetchrow(
        "INSERT INTO threads (tenant_id, person_id, id, agent_name, title, status, metadata) "
        f"VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb) RETURNING {COLS}",
        tenant, person, thread_id, agent_name, title, status, metadata_json))


async def get(pg: asyncpg.Connection, tenant: str, person: str,
              thread_id: str) -> Thread | None:
    record = await pg.fetchrow(f"SELECT {COLS} FROM threads WHERE {SCOPE} AND id = $3",
                               tenant, person, thread_id)
    return _row(record) if record else None


async def exists(pg: asyncpg.Connection, tenant: str, person: str, thread_id: str,
                 lock: bool = False) -> bool:
    """Whether the caller has the thread; `lock` holds it (FOR SHARE) until the
    transaction ends, so it cannot be deleted under a record being added to it."""
    suffix = " FOR SHARE" if lock else ""
    return await pg.fetchval(f"SELECT 1 FROM threads WHERE {SCOPE} AND id = $3{suffix}",
                             tenant, person, thread_id) is not None


async def update(pg: asyncpg.Connection, tenant: str, person: str, thread_id: str,
                 changes: dict[str, Any]) -> Thread | None:
    """Set the given columns (names from the service's fixed list, values as parameters)."""
    sets = ["updated_at = now()"]
    args: list[Any] = [tenant, person, thread_id]
    for column in ("agent_name", "title", "status", "metadata"):
        if column in changes:
            args.append(changes[column])
            cast = "::jsonb" if column == "metadata" else ""
            sets.append(f"{column} = ${len(args)}{cast}")
    record = await pg.fetchrow(
        f"UPDATE threads SET {', '.join(sets)} WHERE {SCOPE} AND id = $3 RETURNING {COLS}",
        *args)
    return _row(record) if record else None


async def list_threads(pg: asyncpg.Connection, tenant: str, person: str, f: ThreadFilter,
                       after: tuple[datetime, str] | None, offset: int,
                       limit: int) -> list[Thread]:
    """Newest first; keyset after (created_at, id), or an offset (the Cortex API)."""
    after_at, after_id = after if after else (None, None)
    records = await pg.fetch(
        f"SELECT {COLS} FROM threads WHERE {SCOPE} "
        "AND ($3::text IS NULL OR agent_name = $3) AND ($4::text IS NULL OR status = $4) "
        "AND ($5::timestamptz IS NULL OR (created_at, id) < ($5, $6::text)) "
        "ORDER BY created_at DESC, id DESC OFFSET $7 LIMIT $8",
        tenant, person, f.agent_name, f.status, after_at, after_id, offset, limit)
    return [_row(r) for r in records]


@dataclass(frozen=True)
class Contents:
    messages: int
    state_versions: int
    artifacts: int
    object_ids: set[str]


_CONTENTS = """
SELECT (SELECT count(*) FROM thread_messages WHERE tenant_id = $1 AND thread_id = $2),
       (SELECT count(*) FROM thread_state_versions WHERE tenant_id = $1 AND thread_id = $2),
       (SELECT count(*) FROM thread_artifacts WHERE tenant_id = $1 AND thread_id = $2),
       ARRAY(SELECT content_object_id FROM thread_messages
             WHERE tenant_id = $1 AND thread_id = $2 AND content_object_id IS NOT NULL
             UNION SELECT object_id FROM thread_state_versions
             WHERE tenant_id = $1 AND thread_id = $2 AND object_id IS NOT NULL
             UNION SELECT object_id FROM thread_artifacts
             WHERE tenant_id = $1 AND thread_id = $2 AND object_id IS NOT NULL)
"""


async def delete(pg: asyncpg.Connection, tenant: str, person: str,
                 thread_id: str) -> Contents | None:
    """Delete the thread and, by cascade, its records; what it held, or None when the
    caller has no such thread. The thread row is locked first: no record is added to it
    between the count and the delete."""
    if await pg.fetchval(f"SELECT 1 FROM threads WHERE {SCOPE} AND id = $3 FOR UPDATE",
                         tenant, person, thread_id) is None:
        return None
    counts = await pg.fetchrow(_CONTENTS, tenant, thread_id)
    await pg.execute("DELETE FROM threads WHERE tenant_id = $1 AND id = $2", tenant, thread_id)
    return Contents(counts[0], counts[1], counts[2], set(counts[3]))
