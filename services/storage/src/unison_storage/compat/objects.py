"""Legacy objects paths (contract.md): base64 bodies in JSON, `{"ok": ...}` replies.

Status convention here: input the caller got wrong is a 4xx with the legacy body
(`invalid-content`, `invalid-id`, `invalid-content-type` 400; `too-large` 413;
`quota-exceeded` 507; `conflict` 409), matching the 400 the shared handler gives a
malformed legacy body; a lookup that finds nothing is HTTP 200 `not-found`, as the legacy
service did. Replies never carry a server file path or storage key.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import AsyncIterator
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from unison_shared.compiled_routes import service_router
from unison_shared.errors import (
    Conflict,
    DependencyUnavailable,
    InsufficientStorage,
    NotFound,
    PayloadTooLarge,
    UnisonError,
)

from ..deps import Ctx, Svc
from ..objects.headers import check_content_type
from ..objects.service import Upload
from .common import fail

router = service_router(tags=["legacy"])

_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")
_WHITESPACE = re.compile(rb"\s+")


class LegacyObject(BaseModel):
    model_config = ConfigDict(extra="ignore")

    content_b64: str
    id: str | None = None
    content_type: str | None = None


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _failure(exc: UnisonError) -> JSONResponse:
    if isinstance(exc, PayloadTooLarge):
        return fail("too-large", 413)
    if isinstance(exc, InsufficientStorage):
        return fail("quota-exceeded", 507, detail=exc.detail)
    if isinstance(exc, Conflict):
        return fail("conflict", 409)
    if isinstance(exc, DependencyUnavailable):
        return fail("unavailable", 503)
    raise exc


@router.post("/objects", response_model=None)
async def put_object(body: LegacyObject, ctx: Ctx, svc: Svc) -> dict[str, Any] | JSONResponse:
    cap = svc.objects.options.legacy_object_max_bytes
    if len(body.content_b64) > (cap + 2) // 3 * 4 + 1024:  # slack for line breaks
        return fail("too-large", 413)
    try:
        data = base64.b64decode(_WHITESPACE.sub(b"", body.content_b64.encode()), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return fail("invalid-content", 400)
    if len(data) > cap:
        return fail("too-large", 413)
    if body.id is not None and not _ID.match(body.id):
        return fail("invalid-id", 400)
    try:
        content_type = check_content_type(body.content_type)
    except UnisonError:
        return fail("invalid-content-type", 400)
    try:
        meta = (await svc.objects.upload(ctx, _one(data), Upload(
            content_type=content_type, content_length=len(data), object_id=body.id))).meta
    except UnisonError as exc:
        return _failure(exc)
    return {"ok": True, "id": meta.id, "size_bytes": meta.size_bytes}


@router.get("/objects/{object_id}", response_model=None)
async def get_object(object_id: str, ctx: Ctx, svc: Svc) -> dict[str, Any] | JSONResponse:
    if not _ID.match(object_id):
        return fail("not-found")
    try:
        meta, data = await svc.objects.read_all(ctx, object_id,
                                                svc.objects.options.legacy_object_max_bytes)
    except NotFound:
        return fail("not-found")
    except PayloadTooLarge:
        return fail("too-large", detail=f"use GET /v1/objects/{object_id}")
    except DependencyUnavailable:
        return fail("unavailable", 503)
    return {"ok": True, "id": meta.id, "person_id": meta.person_id,
            "content_type": meta.content_type, "size_bytes": meta.size_bytes,
            "checksum": meta.sha256, "content_b64": base64.b64encode(data).decode()}
