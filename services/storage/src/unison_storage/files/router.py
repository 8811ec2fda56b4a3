"""/v1/files: content addressed by path. `PUT /v1/files/{path}` streams the raw body
like an object upload (main.py lets every PUT under /v1/files/ stream); `GET` honours
`Range`; `HEAD`; `DELETE`; `GET /v1/files?prefix=&delimiter=/&cursor=` lists;
`POST /v1/files/presign` makes a download link."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from unison_shared.compiled_routes import service_router

from ..deps import Ctx, Svc
from ..objects.headers import check_content_type, parse_digest
from ..objects.router import _content_length, _headers, _stream
from ..objects.schemas import PresignedURL
from ..objects.service import Upload
from .schemas import FileDeleted, FileMeta, FilePage, FilePresign

router = service_router(prefix="/v1/files", tags=["files"])

OptHeader = Annotated[str | None, Header()]
FILE_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {"application/octet-stream": {}}},
    206: {"description": "the requested byte range"},
    416: {"description": "the range lies outside the file"}}


@router.get("")
async def list_files(ctx: Ctx, svc: Svc,
                     prefix: Annotated[str, Query(max_length=1024)] = "",
                     delimiter: Annotated[str | None, Query(min_length=1,
                                                            max_length=8)] = None,
                     cursor: Annotated[str | None, Query(max_length=4096)] = None,
                     limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> FilePage:
    return await svc.files.list(ctx, prefix, delimiter, cursor, limit)


@router.post("/presign")
async def presign_file(body: FilePresign, ctx: Ctx, svc: Svc,
                       request: Request) -> PresignedURL:
    """A link that downloads the content the path names now, without a token, until it
    expires (an overwrite or delete of the path breaks it)."""
    path, _meta, expires_at = await svc.files.presign(ctx, body.path, body.expires_in)
    return PresignedURL(url=str(request.base_url).rstrip("/") + path, expires_at=expires_at)


@router.put("/{path:path}")
async def put_file(path: str, request: Request, ctx: Ctx, svc: Svc, response: Response,
                   content_type: OptHeader = None, x_content_sha256: OptHeader = None,
                   digest: OptHeader = None, content_digest: OptHeader = None) -> FileMeta:
    """Stores the raw body under the path (201 when new, 200 when it replaced the
    previous content, whose payload is freed unless another record references it)."""
    up = Upload(content_type=check_content_type(content_type),
                content_length=_content_length(request.headers.get("content-length")),
                sha256=parse_digest(x_content_sha256, digest, content_digest))
    meta, created = await svc.files.put(ctx, path, request.stream(), up)
    response.status_code = 201 if created else 200
    response.headers["ETag"] = meta.etag
    return meta


@router.head("/{path:path}")
async def head_file(path: str, ctx: Ctx, svc: Svc, range: OptHeader = None,
                    if_range: OptHeader = None) -> Response:
    dl = await svc.files.download(ctx, path, range, with_body=False, if_range=if_range)
    return Response(status_code=206 if dl.partial else 200, headers=_headers(dl))


@router.get("/{path:path}", response_class=StreamingResponse, responses=FILE_RESPONSES)
async def get_file(path: str, ctx: Ctx, svc: Svc, range: OptHeader = None,
                   if_range: OptHeader = None) -> StreamingResponse:
    return _stream(await svc.files.download(ctx, path, range, if_range=if_range))


@router.delete("/{path:path}")
async def delete_file(path: str, ctx: Ctx, svc: Svc) -> FileDeleted:
    return await svc.files.delete(ctx, path)
