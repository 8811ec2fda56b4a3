"""Legacy KV paths: PUT/GET /kv/{namespace}/{key} and PUT /kv/{key} (namespace default)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import BaseModel

from unison_shared.compiled_routes import service_router

from ..deps import Ctx, Svc
from ..kv.schemas import Key, Namespace
from ..kv.service import DEFAULT_NAMESPACE
from .common import event_id

router = service_router(tags=["legacy"])


class LegacyPut(BaseModel):
    value: Any = None


@router.put("/kv/{namespace}/{key}")
async def put_value(namespace: Namespace, key: Key, body: LegacyPut, request: Request,
                    ctx: Ctx, svc: Svc) -> dict[str, Any]:
    await svc.kv.put(ctx, namespace, key, body.value)
    return {"ok": True, "event_id": event_id(request)}


@router.put("/kv/{key}")
async def put_default(key: Key, body: LegacyPut, request: Request, ctx: Ctx,
                      svc: Svc) -> dict[str, Any]:
    await svc.kv.put(ctx, DEFAULT_NAMESPACE, key, body.value)
    return {"ok": True, "event_id": event_id(request)}


@router.get("/kv/{namespace}/{key}")
async def get_value(namespace: Namespace, key: Key, request: Request, ctx: Ctx,
                    svc: Svc) -> dict[str, Any]:
    record = await svc.kv.get(ctx, namespace, key)
    return {"ok": True, "value": record.value if record else None,
            "event_id": event_id(request)}


@router.get("/kv/{key}")
async def get_default(key: Key, request: Request, ctx: Ctx, svc: Svc) -> dict[str, Any]:
    record = await svc.kv.get(ctx, DEFAULT_NAMESPACE, key)
    return {"ok": True, "value": record.value if record else None,
            "event_id": event_id(request)}
