"""KV API: /v1/kv/{namespace}/{key} with ETag / If-Match check-and-set."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Path, Query, Response

from unison_shared.compiled_routes import service_router
from unison_shared.errors import NotFound

from ..deps import Ctx, Svc
from .schemas import Key, KVPage, KVPutBody, KVRecord, Namespace

router = service_router(prefix="/v1/kv", tags=["kv"])

NsParam = Annotated[Namespace, Path(description="namespace, [A-Za-z0-9_.:-]{1,128}")]
KeyParam = Annotated[Key, Path(description="key, up to 512 printable characters")]


@router.get("/{namespace}/{key}")
async def get_record(namespace: NsParam, key: KeyParam, ctx: Ctx, svc: Svc,
                     response: Response) -> KVRecord:
    record = await svc.kv.get(ctx, namespace, key)
    if record is None:
        raise NotFound(f"no record {namespace}/{key}")
    response.headers["ETag"] = record.etag
    return record


@router.put("/{namespace}/{key}")
async def put_record(namespace: NsParam, key: KeyParam, body: KVPutBody, ctx: Ctx, svc: Svc,
                     response: Response,
                     if_match: Annotated[str | None, Header()] = None,
                     if_none_match: Annotated[str | None, Header()] = None) -> KVRecord:
    record, created = await svc.kv.put(ctx, namespace, key, body.value, body.ttl_seconds,
                                       if_match=if_match, if_none_match=if_none_match)
    response.status_code = 201 if created else 200
    response.headers["ETag"] = record.etag
    return record


@router.delete("/{namespace}/{key}", status_code=204)
async def delete_record(namespace: NsParam, key: KeyParam, ctx: Ctx, svc: Svc,
                        if_match: Annotated[str | None, Header()] = None) -> Response:
    await svc.kv.delete(ctx, namespace, key, if_match=if_match)
    return Response(status_code=204)


@router.get("/{namespace}")
async def list_records(namespace: NsParam, ctx: Ctx, svc: Svc,
                       prefix: Annotated[str, Query(max_length=512)] = "",
                       cursor: Annotated[str | None, Query(max_length=2048)] = None,
                       limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> KVPage:
    return await svc.kv.list(ctx, namespace, prefix, cursor, limit)
