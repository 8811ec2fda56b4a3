"""/v1/cache: a TTL cache on Redis (a miss when Redis is down; writes 503 then)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from unison_shared.compiled_routes import service_router

from ..deps import Ctx, Svc
from .schemas import CacheCleanup, CacheDeleted, CacheEntry, CacheKey, CachePut

router = service_router(prefix="/v1/cache", tags=["cache"])

KeyParam = Annotated[CacheKey, Path(description="1-512 printable characters")]


@router.post("/cleanup")
async def cleanup(ctx: Ctx, svc: Svc) -> CacheCleanup:
    return CacheCleanup(deleted=await svc.cache.cleanup(ctx))


@router.get("/{key}")
async def get_entry(key: KeyParam, ctx: Ctx, svc: Svc) -> CacheEntry:
    return await svc.cache.get(ctx, key)


@router.put("/{key}")
async def put_entry(key: KeyParam, body: CachePut, ctx: Ctx, svc: Svc) -> CacheEntry:
    return await svc.cache.put(ctx, key, body.value, body.ttl)


@router.delete("/{key}")
async def delete_entry(key: KeyParam, ctx: Ctx, svc: Svc) -> CacheDeleted:
    await svc.cache.delete(ctx, key)
    return CacheDeleted(key=key)
