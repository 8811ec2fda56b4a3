"""The TTL cache, on Redis only (never PostgreSQL): values under keys prefixed by the
caller's tenant and person, every key with a TTL (the caller's, at most the configured
maximum; the configured default without one), values up to a configured size.

Redis is a cache: when it is down (or not configured) a read is a miss (404) and a
write answers 503 with Retry-After; nothing else in storage depends on it.

Reads are counted on /metrics as `cache_hits_total`, `cache_misses_total` and
`cache_errors_total` (Redis unreachable) with `cache="storage:cache"`.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from unison_shared.auth import RequestContext
from unison_shared.cache import cache_counters
from unison_shared.errors import DependencyUnavailable, NotFound, PayloadTooLarge, ValidationFailed

from ..settings import StorageOptions
from .schemas import CacheEntry

logger = logging.getLogger("unison.storage.cache")

PREFIX = "storage:cache:"
CACHE_NAME = "storage:cache"
_DOWN = (RedisError, OSError, TimeoutError)


def scope_prefix(ctx: RequestContext) -> str:
    # Quoted: no ':' or glob character of an id can reach into another scope's keys.
    return f"{PREFIX}{quote(ctx.tenant_id, safe='')}:{quote(ctx.person_id, safe='')}:"


def _now() -> datetime:
    return datetime.now(UTC)


class CacheService:
    def __init__(self, redis: Redis | None, options: StorageOptions) -> None:
        self.redis = redis
        self.options = options
        # The app's cache counters, when the kit made this Redis client (app.py).
        self.counters = cache_counters(redis)

    def _count(self, event: str) -> None:
        if self.counters is not None:
            self.counters.count(CACHE_NAME, event)

    def _client(self) -> Redis:
        if self.redis is None:
            raise self._unavailable()
        return self.redis

    def _unavailable(self) -> DependencyUnavailable:
        return DependencyUnavailable(
            "the cache (Redis) is unavailable; retry later",
            headers={"Retry-After": str(self.options.cache_retry_after_seconds)})

    def ttl_for(self, ttl: int | None) -> int:
        if ttl is None:
            return min(self.options.cache_default_ttl_seconds, self.options.cache_max_ttl_seconds)
        if ttl <= 0:
            raise ValidationFailed("ttl: must be greater than 0")
        return min(ttl, self.options.cache_max_ttl_seconds)

    async def get(self, ctx: RequestContext, key: str) -> CacheEntry:
        """The entry (its accessed_at refreshed); 404 when missing, expired, or Redis is
        down (a miss)."""
        try:
            redis = self._client()
            name = scope_prefix(ctx) + key
            raw = await redis.get(name)
            stored = None if raw is None else orjson.loads(raw)
            if stored is None or stored["expires_at"] <= time.time():
                self._count("miss")
                raise NotFound(f"no cache entry {key!r}")
            stored["accessed_at"] = _now().isoformat()
            await redis.set(name, orjson.dumps(stored), xx=True, keepttl=True)
            self._count("hit")
        except _DOWN as exc:
            self._count("error")
            logger.warning("cache read missed: Redis unavailable",
                           extra={"error": type(exc).__name__})
            raise NotFound(f"no cache entry {key!r} (the cache is unavailable)") from exc
        except DependencyUnavailable as exc:
            raise NotFound(f"no cache entry {key!r} (the cache is unavailable)") from exc
        return _entry(key, stored)

    async def put(self, ctx: RequestContext, key: str, value: Any,
                  ttl: int | None) -> CacheEntry:
        seconds = self.ttl_for(ttl)
        try:
            encoded_value = orjson.dumps(value)
        except TypeError as exc:
            raise ValidationFailed("value: not a JSON value") from exc
        if len(encoded_value) > self.options.cache_max_value_bytes:
            raise PayloadTooLarge(f"value is {len(encoded_value)} bytes; the cache holds "
                                  f"at most {self.options.cache_max_value_bytes}")
        now = _now()
        stored = {"value": value, "ttl": seconds, "created_at": now.isoformat(),
                  "accessed_at": now.isoformat(), "expires_at": now.timestamp() + seconds}
        try:
            await self._client().set(scope_prefix(ctx) + key, orjson.dumps(stored), ex=seconds)
        except _DOWN as exc:
            self._count("error")
            logger.warning("cache write refused: Redis unavailable",
                           extra={"error": type(exc).__name__})
            raise self._unavailable() from exc
        return _entry(key, stored)

    async def delete(self, ctx: RequestContext, key: str) -> None:
        try:
            removed = await self._client().delete(scope_prefix(ctx) + key)
        except _DOWN as exc:
            raise self._unavailable() from exc
        if not removed:
            raise NotFound(f"no cache entry {key!r}")

    async def cleanup(self, ctx: RequestContext) -> int:
        """Delete the caller's entries found expired (Redis expires keys itself; this
        removes any it has not yet, and any key found without a TTL); the count."""
        redis = self._client()
        deleted = 0
        now = time.time()
        try:
            async for name in redis.scan_iter(match=scope_prefix(ctx) + "*", count=500):
                raw = await redis.get(name)
                if raw is None:
                    continue
                expired = orjson.loads(raw).get("expires_at", 0) <= now
                if expired or await redis.ttl(name) == -1:
                    deleted += int(await redis.delete(name))
        except _DOWN as exc:
            raise self._unavailable() from exc
        return deleted


def _entry(key: str, stored: dict[str, Any]) -> CacheEntry:
    return CacheEntry(key=key, value=stored["value"], ttl=stored["ttl"],
                      created_at=stored["created_at"], accessed_at=stored["accessed_at"],
                      expires_at=datetime.fromtimestamp(stored["expires_at"], UTC))
