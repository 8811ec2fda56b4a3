"""/v1/threads/{thread_id}/artifacts: create (metadata, inline base64 or an uploaded
object), list newest first, read, download the payload, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query, Response

from unison_shared.compiled_routes import service_router

from ..deps import Ctx, Svc
from ..threads.router import ThreadIdParam
from ..threads.schemas import RecordId
from .repository import ArtifactFilter
from .schemas import Artifact, ArtifactDeleted, ArtifactIn, ArtifactPage

router = service_router(prefix="/v1/threads/{thread_id}/artifacts", tags=["threads"])

ArtifactIdParam = Annotated[RecordId, Path(description="artifact_<16 hex>")]


@router.post("", status_code=201)
async def create_artifact(thread_id: ThreadIdParam, body: ArtifactIn, ctx: Ctx,
                          svc: Svc) -> Artifact:
    return await svc.artifacts.create(ctx, thread_id, body)


@router.get("")
async def list_artifacts(thread_id: ThreadIdParam, ctx: Ctx, svc: Svc,
                         type: Annotated[str | None, Query(max_length=128)] = None,
                         cursor: Annotated[str | None, Query(max_length=512)] = None,
                         limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> ArtifactPage:
    async with svc.db.statement(ctx) as conn:
        return await svc.artifacts.list(conn, ctx, ArtifactFilter(thread_id, type), cursor,
                                        limit)


@router.get("/{artifact_id}")
async def get_artifact(thread_id: ThreadIdParam, artifact_id: ArtifactIdParam, ctx: Ctx,
                       svc: Svc) -> Artifact:
    async with svc.db.statement(ctx) as conn:
        return await svc.artifacts.get(conn, ctx, artifact_id, thread_id)


@router.get("/{artifact_id}/content")
async def get_artifact_content(thread_id: ThreadIdParam, artifact_id: ArtifactIdParam,
                               ctx: Ctx, svc: Svc) -> Response:
    async with svc.db.statement(ctx) as conn:
        artifact, data = await svc.artifacts.content(conn, ctx, artifact_id, thread_id)
    return Response(data, media_type=artifact.content_type,
                    headers={"ETag": f'"{artifact.sha256}"'})


@router.delete("/{artifact_id}")
async def delete_artifact(thread_id: ThreadIdParam, artifact_id: ArtifactIdParam, ctx: Ctx,
                          svc: Svc) -> ArtifactDeleted:
    return await svc.artifacts.delete(ctx, artifact_id, thread_id)
