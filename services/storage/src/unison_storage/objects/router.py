"""Objects API under /v1/objects: streamed upload, ranged download, metadata, list,
delete, presigned links.

The upload body is the raw payload (not a multipart form): it is streamed to the store
as it arrives; metadata travels in headers and the query string.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from unison_shared.compiled_routes import service_router
from unison_shared.errors import BadRequest

from ..deps import Ctx, Svc
from . import idempotency
from .headers import check_content_type, check_filename, parse_digest, parse_labels
from .repository import ListFilter
from .schemas import ObjectId, ObjectMeta, ObjectPage, PresignBody, PresignedURL
from .service import Download, Upload

router = service_router(prefix="/v1/objects", tags=["objects"])
# The signed download link is its own credential: routes here take no Ctx (no token).
public = service_router(tags=["objects"])

OptHeader = Annotated[str | None, Header()]


def _content_length(value: str | None) -> int | None:
    if value is None:
        return None
    if not value.strip().isdigit():
        raise BadRequest("Content-Length: not a number")
    return int(value)


@router.post("", status_code=201)
async def upload(request: Request, ctx: Ctx, svc: Svc, response: Response,
                 filename: Annotated[str | None, Query(max_length=255)] = None,
                 label: Annotated[list[str] | None, Query(max_length=330)] = None,
                 content_type: OptHeader = None,
                 x_filename: OptHeader = None, x_object_labels: OptHeader = None,
                 x_content_sha256: OptHeader = None, digest: OptHeader = None,
                 content_digest: OptHeader = None,
                 idempotency_key: OptHeader = None) -> ObjectMeta:
    up = Upload(content_type=check_content_type(content_type),
                filename=check_filename(filename if filename is not None else x_filename),
                labels=parse_labels(x_object_labels, label or []),
                # Read from the request, not declared: Content-Length is framing, not a
                # parameter a client chooses (so it stays out of the OpenAPI document).
                content_length=_content_length(request.headers.get("content-length")),
                sha256=parse_digest(x_content_sha256, digest, content_digest),
                idempotency_key=idempotency.parse_key(idempotency_key))
    stored = await svc.objects.upload(ctx, request.stream(), up)
    meta = stored.meta
    if stored.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"/v1/objects/{quote(meta.id, safe='')}"
    response.headers["ETag"] = meta.etag
    return meta


@router.get("")
async def list_objects(ctx: Ctx, svc: Svc,
                       person_id: Annotated[str | None, Query(
                           description="optional; must be the caller's own (or the "
                                       "person a workload acts for)")] = None,
                       content_type: Annotated[str | None, Query(max_length=255)] = None,
                       label: Annotated[list[str] | None, Query(max_length=330)] = None,
                       created_after: datetime | None = None,
                       created_before: datetime | None = None,
                       cursor: Annotated[str | None, Query(max_length=2048)] = None,
                       limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> ObjectPage:
    # person_id was already checked against the token by the identity rule (Ctx).
    filters = ListFilter(content_type=content_type, labels=parse_labels(None, label or []),
                         created_after=created_after, created_before=created_before)
    return await svc.objects.list(ctx, filters, cursor, limit)


def _headers(dl: Download) -> dict[str, str]:
    meta = dl.meta
    headers = {
        "Content-Type": meta.content_type,
        "Content-Length": str(max(0, dl.end - dl.start + 1)),
        "ETag": meta.etag,
        "Accept-Ranges": "bytes",
        "Last-Modified": meta.created_at.strftime("%a, %d %b %Y %H:%M:%S GMT"),
        # Payloads are caller-supplied: never let a browser run them on this origin.
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox",
    }
    if dl.partial:
        headers["Content-Range"] = f"bytes {dl.start}-{dl.end}/{meta.size_bytes}"
    if meta.filename:
        headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(meta.filename)}"
    return headers


def _stream(dl: Download) -> StreamingResponse:
    assert dl.body is not None
    return StreamingResponse(dl.body, status_code=206 if dl.partial else 200,
                             headers=_headers(dl), media_type=dl.meta.content_type)


@router.head("/{object_id}")
async def head_object(object_id: ObjectId, ctx: Ctx, svc: Svc,
                      range: OptHeader = None, if_range: OptHeader = None) -> Response:
    dl = await svc.objects.download(ctx, object_id, range, with_body=False,
                                    if_range=if_range)
    return Response(status_code=206 if dl.partial else 200, headers=_headers(dl))


@router.get("/{object_id}", response_class=StreamingResponse,
            responses={200: {"content": {"application/octet-stream": {}}},
                       206: {"description": "the requested byte range"},
                       416: {"description": "the range lies outside the object"}})
async def get_object(object_id: ObjectId, ctx: Ctx, svc: Svc,
                     range: OptHeader = None, if_range: OptHeader = None) -> StreamingResponse:
    return _stream(await svc.objects.download(ctx, object_id, range, if_range=if_range))


@router.get("/{object_id}/metadata")
async def get_metadata(object_id: ObjectId, ctx: Ctx, svc: Svc,
                       response: Response) -> ObjectMeta:
    meta = await svc.objects.get(ctx, object_id)
    response.headers["ETag"] = meta.etag
    return meta


@router.delete("/{object_id}", status_code=204)
async def delete_object(object_id: ObjectId, ctx: Ctx, svc: Svc) -> Response:
    await svc.objects.delete(ctx, object_id)
    return Response(status_code=204)


@router.post("/{object_id}/presign")
async def presign_object(object_id: ObjectId, ctx: Ctx, svc: Svc, request: Request,
                         body: PresignBody | None = None) -> PresignedURL:
    expires_in = (body or PresignBody()).expires_in
    path, expires_at = await svc.objects.presign(ctx, object_id, expires_in)
    return PresignedURL(url=str(request.base_url).rstrip("/") + path, expires_at=expires_at)


SigQuery = Annotated[str, Query(max_length=128)]
TenantQuery = Annotated[str, Query(max_length=256)]
TagQuery = Annotated[str, Query(alias="v", max_length=64)]


@public.head("/{object_id}/download")
async def head_presigned(object_id: ObjectId, expires: int, tenant: TenantQuery, tag: TagQuery,
                         sig: SigQuery, svc: Svc, range: OptHeader = None,
                         if_range: OptHeader = None) -> Response:
    dl = await svc.objects.presigned_download(tenant, object_id, expires, tag, sig, range,
                                              with_body=False, if_range=if_range)
    return Response(status_code=206 if dl.partial else 200, headers=_headers(dl))


@public.get("/{object_id}/download", response_class=StreamingResponse)
async def get_presigned(object_id: ObjectId, expires: int, tenant: TenantQuery, tag: TagQuery,
                        sig: SigQuery, svc: Svc, range: OptHeader = None,
                        if_range: OptHeader = None) -> StreamingResponse:
    return _stream(await svc.objects.presigned_download(tenant, object_id, expires, tag, sig,
                                                        range, if_range=if_range))


router.include_router(public)
