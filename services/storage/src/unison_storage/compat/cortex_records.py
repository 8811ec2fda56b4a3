"""The Cortex-Prime storage API, served as-is: agent state, artifacts, metrics, cache.

State is the thread's versioned, encrypted state (the newest version); an artifact may
also carry its payload (`content_b64`, or the `object_id` of an uploaded object); a
cache entry without a `ttl` gets the configured default (at most the maximum) instead
of living forever. See docs/cortex-prime.md.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import Query
from pydantic import BaseModel, Field

from unison_shared.errors import NotFound

from ..artifacts.repository import ArtifactFilter
from ..artifacts.schemas import ArtifactIn, ContentType, Kind, Name
from ..cache.schemas import CacheKey
from ..deps import Ctx, Svc
from ..metrics.repository import MetricFilter
from ..metrics.schemas import Label, MetricIn, Short
from ..objects.schemas import ObjectId
from ..threads.schemas import RecordId
from .cortex_common import Artifact, IsoTime, artifact, as_utc, cortex_router

router = cortex_router()

Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0)]
Text = Annotated[str | None, Query(max_length=256)]


class AgentState(BaseModel):
    session_id: str
    data: dict[str, Any]
    updated_at: IsoTime
    version: int = 0


class StatePut(BaseModel):
    data: dict[str, Any]


class ArtifactCreate(BaseModel):
    session_id: RecordId
    name: Name
    type: Kind
    path: Annotated[str, Field(max_length=4096)] = ""
    size: int | None = Field(default=None, ge=0)
    metadata: dict[str, Any] | None = None
    content_type: ContentType = "application/octet-stream"
    content_b64: str | None = None
    object_id: ObjectId | None = None


class Metric(BaseModel):
    id: str
    entity_type: str
    entity_name: str
    session_id: str | None
    metric_name: str
    value: float
    timestamp: IsoTime
    labels: dict[str, str]


class MetricCreate(BaseModel):
    entity_type: Short
    entity_name: Short
    session_id: Annotated[str, Field(max_length=128)] | None = None
    metric_name: Short
    value: float = Field(allow_inf_nan=False)
    labels: dict[Short, Label | int | float | bool | None] | None = Field(
        default=None, description="a number, boolean or null is kept as its JSON text")
    timestamp: datetime | None = None


class CacheEntry(BaseModel):
    key: str
    value: Any
    ttl: int
    created_at: IsoTime
    accessed_at: IsoTime
    expires_at: IsoTime


class CachePut(BaseModel):
    key: str | None = Field(default=None, description="ignored: the path's key wins")
    value: Any
    ttl: int | None = Field(default=None, gt=0)


class Deleted(BaseModel):
    status: Literal["deleted"] = "deleted"


class StateDeleted(Deleted):
    session_id: str


class ArtifactDeleted(Deleted):
    artifact_id: str


class CacheDeleted(Deleted):
    key: str


class CleanedUp(BaseModel):
    status: Literal["completed"] = "completed"
    deleted: int


@router.get("/state/{session_id}")
async def get_state(session_id: RecordId, ctx: Ctx, svc: Svc) -> AgentState:
    async with svc.db.statement(ctx) as conn:
        state = await svc.state.get(conn, ctx, session_id)
        if state is None:
            return AgentState(session_id=session_id, data={}, updated_at=datetime.now(UTC))
        return AgentState(session_id=session_id, data=state.data, updated_at=state.updated_at,
                          version=state.version)


@router.put("/state/{session_id}")
async def put_state(session_id: RecordId, body: StatePut, ctx: Ctx, svc: Svc) -> AgentState:
    state = await svc.state.put(ctx, session_id, body.data)
    return AgentState(session_id=session_id, data=state.data, updated_at=state.updated_at,
                      version=state.version)


@router.delete("/state/{session_id}")
async def delete_state(session_id: RecordId, ctx: Ctx, svc: Svc) -> StateDeleted:
    if await svc.state.delete_all(ctx, session_id) == 0:
        raise NotFound(f"no state for session {session_id}")
    return StateDeleted(session_id=session_id)


@router.post("/artifacts")
async def create_artifact(body: ArtifactCreate, ctx: Ctx, svc: Svc) -> Artifact:
    created = await svc.artifacts.create(ctx, body.session_id, ArtifactIn(
        name=body.name, type=body.type, content_type=body.content_type, path=body.path,
        size=body.size, metadata=body.metadata or {}, content_b64=body.content_b64,
        object_id=body.object_id))
    return artifact(created)


@router.get("/artifacts/{artifact_id}")
async def get_artifact(artifact_id: RecordId, ctx: Ctx, svc: Svc) -> Artifact:
    async with svc.db.statement(ctx) as conn:
        return artifact(await svc.artifacts.get(conn, ctx, artifact_id))


@router.get("/artifacts")
async def list_artifacts(ctx: Ctx, svc: Svc, session_id: Text = None,
                         type: Text = None, limit: Limit = 100,
                         offset: Offset = 0) -> list[Artifact]:
    async with svc.db.statement(ctx) as conn:
        rows = await svc.artifacts.page(conn, ctx, ArtifactFilter(session_id, type), offset, limit)
        return [artifact(a) for a in rows]


@router.delete("/artifacts/{artifact_id}")
async def delete_artifact(artifact_id: RecordId, ctx: Ctx, svc: Svc) -> ArtifactDeleted:
    await svc.artifacts.delete(ctx, artifact_id)
    return ArtifactDeleted(artifact_id=artifact_id)


def _metric(m: Any) -> Metric:
    return Metric(id=m.id, entity_type=m.entity_type, entity_name=m.entity_name,
                  session_id=m.thread_id, metric_name=m.metric_name, value=m.value,
                  timestamp=m.timestamp, labels=m.labels)


def _labels(labels: dict[str, Any] | None) -> dict[str, str]:
    return {k: v if isinstance(v, str) else orjson.dumps(v).decode()
            for k, v in (labels or {}).items()}


@router.post("/metrics")
async def record_metric(body: MetricCreate, ctx: Ctx, svc: Svc) -> Metric:
    async with svc.db.statement(ctx) as conn:
        point = MetricIn(entity_type=body.entity_type, entity_name=body.entity_name,
                         thread_id=body.session_id, metric_name=body.metric_name,
                         value=body.value, labels=_labels(body.labels),
                         timestamp=as_utc(body.timestamp))
        return _metric((await svc.metrics.record(conn, ctx, [point]))[0])


@router.get("/metrics")
async def query_metrics(ctx: Ctx, svc: Svc, entity_type: Text = None,
                        entity_name: Text = None, session_id: Text = None,
                        metric_name: Text = None,
                        start_time: Annotated[datetime | None, Query()] = None,
                        end_time: Annotated[datetime | None, Query()] = None,
                        limit: Limit = 100, offset: Offset = 0) -> list[Metric]:
    async with svc.db.statement(ctx) as conn:
        f = MetricFilter(entity_type, entity_name, session_id, metric_name, as_utc(start_time),
                         as_utc(end_time))
        return [_metric(m) for m in await svc.metrics.page(conn, ctx, f, offset, limit)]


def _cache(entry: Any) -> CacheEntry:
    return CacheEntry(**entry.model_dump())


@router.post("/cache/cleanup")
async def cleanup_cache(ctx: Ctx, svc: Svc) -> CleanedUp:
    return CleanedUp(deleted=await svc.cache.cleanup(ctx))


@router.get("/cache/{key}")
async def get_cache(key: CacheKey, ctx: Ctx, svc: Svc) -> CacheEntry:
    return _cache(await svc.cache.get(ctx, key))


@router.put("/cache/{key}")
async def put_cache(key: CacheKey, body: CachePut, ctx: Ctx, svc: Svc) -> CacheEntry:
    return _cache(await svc.cache.put(ctx, key, body.value, body.ttl))


@router.delete("/cache/{key}")
async def delete_cache(key: CacheKey, ctx: Ctx, svc: Svc) -> CacheDeleted:
    await svc.cache.delete(ctx, key)
    return CacheDeleted(key=key)
