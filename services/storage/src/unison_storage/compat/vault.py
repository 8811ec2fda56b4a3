"""Legacy vault paths (contract.md): POST /vault and GET /vault/{key_id}.

The legacy service stored `cipher_text` as given, in plain text. Here the caller's
`cipher_text` (or `data`) string is the secret value: it is encrypted like any vault
secret, and read back with the same shape. Failures keep the legacy `ok:false` bodies.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import JSONResponse

from unison_shared.compiled_routes import service_router
from unison_shared.errors import BadRequest, Conflict, Gone, NotFound, PayloadTooLarge

from ..deps import Ctx, Svc
from ..vault.service import VaultIntegrityError
from .common import fail

router = service_router(tags=["legacy"])


def _field(body: dict[str, Any], *names: str) -> Any:
    for name in names:
        if body.get(name) is not None:
            return body[name]
    return None


@router.post("/vault", response_model=None)
async def put_secret(request: Request, ctx: Ctx, svc: Svc) -> dict[str, Any] | JSONResponse:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return fail("invalid-json", 400)
    if not isinstance(body, dict):
        return fail("invalid-request", 400)
    value = _field(body, "cipher_text", "data")
    if value is None:
        return fail("missing-cipher_text", 400)
    if not isinstance(value, str):
        return fail("invalid-cipher_text", 400)
    key_id = _field(body, "key_id", "id")
    if key_id is not None and not isinstance(key_id, str):
        return fail("invalid-key_id", 400)
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        return fail("invalid-metadata", 400)
    key_id = key_id or uuid.uuid4().hex
    try:
        await svc.vault.put(ctx, key_id, value, metadata)
    except PayloadTooLarge:
        return fail("too-large", 413)
    except BadRequest:
        return fail("invalid-key_id", 400)
    except Conflict:  # other writes kept winning the race for this secret: retry later
        return fail("conflict", 409)
    return {"ok": True, "key_id": key_id}


@router.get("/vault/{key_id:path}", response_model=None)
async def get_secret(key_id: str, ctx: Ctx, svc: Svc) -> dict[str, Any] | JSONResponse:
    try:
        secret = await svc.vault.read(ctx, key_id)
    except (NotFound, Gone, BadRequest):
        return fail("not-found")
    except VaultIntegrityError:
        return fail("integrity-error", 500)
    # A write sets the secret's updated_at and the version's created_at in one
    # transaction (one now()), so the current version's time is the update time.
    return {"ok": True, "key_id": secret.name, "cipher_text": secret.value,
            "metadata": secret.metadata, "version": secret.version,
            "updated_at": secret.created_at.timestamp()}
