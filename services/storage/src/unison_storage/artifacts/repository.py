"""SQL for thread_artifacts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from .schemas import Artifact

_COLS = ("a.id, a.thread_id, a.name, a.type, a.content_type, a.size_bytes, a.path, a.sha256, "
         "a.object_id, a.metadata, a.created_at")
_FROM = "FROM thread_artifacts a WHERE a.tenant_id = $1 AND a.person_id = $2"


@dataclass(frozen=True)
class NewArtifact:
    id: str
    thread_id: str
    name: str
    type: str
    content_type: str
    size_bytes: int
    path: str
    sha256: str | None
    object_id: str | None
    metadata_json: str


@dataclass(frozen=True)
class ArtifactFilter:
    thread_id: str | None = None
    type: str | None = None


async def insert(pg: asyncpg.Connection, tenant: str, person: str, a: NewArtifact) -> Artifact:
    record = await pg.fetchrow(
        "INSERT INTO thread_artifacts AS a (tenant_id, person_id, id, thread_id, name, type, "
        "content_type, size_bytes, path, sha256, object_id, metadata) VALUES ($1, $2, $3, $4, "
        f"$5, $6, $7, $8, $9, $10, $11, $12::jsonb) RETURNING {_COLS}",
        tenant, person, a.id, a.thread_id, a.name, a.type, a.content_type, a.size_bytes, a.path,
        a.sha256, a.object_id, a.metadata_json)
    return Artifact(**record)


async def get(pg: asyncpg.Connection, tenant: str, person: str,
              artifact_id: str) -> tuple[Artifact, str | None] | None:
    """The artifact and its payload's storage key (None without a payload)."""
    record = await pg.fetchrow(
        f"SELECT {_COLS}, o.storage_key FROM thread_artifacts a LEFT JOIN objects o "
        "ON o.tenant_id = a.tenant_id AND o.id = a.object_id "
        "WHERE a.tenant_id = $1 AND a.person_id = $2 AND a.id = $3",
        tenant, person, artifact_id)
    if record is None:
        return None
    values = dict(record)
    key = values.pop("storage_key")
    return Artifact(**values), key


async def list_artifacts(pg: asyncpg.Connection, tenant: str, person: str, f: ArtifactFilter,
                         after: tuple[datetime, str] | None, offset: int,
                         limit: int) -> list[Artifact]:
    """Newest first; keyset after (created_at, id), or an offset (the Cortex API)."""
    after_at, after_id = after if after else (None, None)
    records = await pg.fetch(
        f"SELECT {_COLS} {_FROM} AND ($3::text IS NULL OR a.thread_id = $3) "
        "AND ($4::text IS NULL OR a.type = $4) "
        "AND ($5::timestamptz IS NULL OR (a.created_at, a.id) < ($5, $6::text)) "
        "ORDER BY a.created_at DESC, a.id DESC OFFSET $7 LIMIT $8",
        tenant, person, f.thread_id, f.type, after_at, after_id, offset, limit)
    return [Artifact(**r) for r in records]


async def delete(pg: asyncpg.Connection, tenant: str, person: str,
                 artifact_id: str) -> tuple[bool, str | None]:
    """(whether it existed, the object it referenced)."""
    record = await pg.fetchrow(
        "DELETE FROM thread_artifacts WHERE tenant_id = $1 AND person_id = $2 AND id = $3 "
        "RETURNING object_id", tenant, person, artifact_id)
    return (record is not None, record[0] if record else None)
