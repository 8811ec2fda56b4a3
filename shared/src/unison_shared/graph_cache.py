"""Cache-aside for graph reads, invalidated by a per-tenant generation number.

Every cached value's key holds the tenant's generation; every acknowledged write bumps
it before answering, so a read after a write never finds the value it replaced (the old
keys simply stop being asked for, and expire by their TTL). Every key has a TTL, the
generation key included (a lost generation restarts from the clock, never from a number
used before). Redis is a cache only: when it fails, reads go to the graph, the error is
counted and logged, and nothing fails. A bump that could not reach Redis is remembered
and retried before this process trusts the cache again.

Lookups are counted in the app's cache counters (`Metrics.caches`: `cache_hits_total`,
`cache_misses_total`, `cache_errors_total`, labelled `cache=<keyspace>`), and shown also
as `graph_cache_events_total{keyspace, event}`, the name the graph services had first.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import orjson
from prometheus_client.core import CounterMetricFamily, Metric
from redis.asyncio import Redis
from redis.exceptions import RedisError

from .observability import CacheCounters, Metrics

logger = logging.getLogger("unison.graph.cache")
T = TypeVar("T")
GENERATION_TTL_SECONDS = 7 * 24 * 3600


def tenant_part(tenant: str) -> str:
    return hashlib.blake2b(tenant.encode(), digest_size=8).hexdigest()


class CacheStats:
    """hit / miss / error counts per keyspace in the app's cache counters; made once
    per app (it registers `graph_cache_events_total`)."""

    def __init__(self, metrics: Metrics | None) -> None:
        self.counters: CacheCounters | None = None
        if metrics is not None:
            self.counters = metrics.caches
            metrics.registry.register(_GraphCacheEvents(metrics.caches))

    def count(self, keyspace: str, event: str) -> None:
        if self.counters is not None:
            self.counters.count(keyspace, event)


class _GraphCacheEvents:
    """`graph_cache_events_total{keyspace, event}` from the same counts, at scrape time."""

    def __init__(self, counters: CacheCounters) -> None:
        self.counters = counters

    def describe(self) -> Iterator[Metric]:
        yield self._family()

    @staticmethod
    def _family() -> CounterMetricFamily:
        return CounterMetricFamily("graph_cache_events_total",
                                   "Cache hits, misses and errors by keyspace",
                                   labels=["keyspace", "event"])

    def collect(self) -> Iterator[Metric]:
        family = self._family()
        for (keyspace, event), n in sorted(self.counters.counts.items()):
            family.add_metric([keyspace, event], n)
        yield family


class Generations:
    """The per-tenant generation numbers of one service; its caches share them, so one
    bump invalidates every keyspace of the service."""

    def __init__(self, redis: Redis, space: str) -> None:
        self.redis = redis
        self.space = space
        self._pending: set[str] = set()

    def _key(self, tenant: str) -> str:
        return f"{self.space}:gen:{tenant_part(tenant)}"

    async def flush_pending(self) -> None:
        for tenant in list(self._pending):
            await self._bump(tenant)
            self._pending.discard(tenant)

    async def current(self, tenant: str) -> int:
        await self.flush_pending()
        key = self._key(tenant)
        value = await self.redis.get(key)
        if value is None:
            await self.redis.set(key, time.time_ns(), nx=True, ex=GENERATION_TTL_SECONDS)
            value = await self.redis.get(key)
        return int(value or 0)

    async def _bump(self, tenant: str) -> None:
        key = self._key(tenant)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(key, time.time_ns(), nx=True, ex=GENERATION_TTL_SECONDS)
            pipe.incr(key)
            pipe.expire(key, GENERATION_TTL_SECONDS)
            await pipe.execute()

    async def bump(self, tenant: str) -> bool:
        try:
            await self.flush_pending()
            await self._bump(tenant)
        except (RedisError, OSError) as exc:
            self._pending.add(tenant)
            logger.warning("cache %s: generation bump deferred: %s", self.space,
                           type(exc).__name__)
            return False
        return True


class GraphCache:
    """One keyspace (`graph:hot:context`, `intent:cache`, ...) with a default TTL."""

    def __init__(self, redis: Redis | None, keyspace: str, ttl_seconds: int,
                 stats: CacheStats, generations: Generations | None) -> None:
        self.redis = redis
        self.keyspace = keyspace
        self.ttl = max(1, ttl_seconds)
        self.stats = stats
        self.generations = generations

    async def get_or_load(self, tenant: str, parts: tuple[Any, ...],
                          load: Callable[[], Awaitable[T]],
                          ttl_seconds: int | None = None) -> T:
        """The cached value of `parts` for the tenant, else `load()` (then cached)."""
        if self.redis is None or self.generations is None:
            return await load()
        try:
            gen = await self.generations.current(tenant)
            digest = hashlib.sha256(orjson.dumps([tenant, *parts], default=str)).hexdigest()
            key = f"{self.keyspace}:{tenant_part(tenant)}:{gen}:{digest[:32]}"
            raw = await self.redis.get(key)
        except (RedisError, OSError) as exc:
            self.stats.count(self.keyspace, "error")
            logger.warning("cache %s unavailable, reading the graph: %s", self.keyspace,
                           type(exc).__name__)
            return await load()
        if raw is not None:
            self.stats.count(self.keyspace, "hit")
            cached: T = orjson.loads(raw)["v"]
            return cached
        self.stats.count(self.keyspace, "miss")
        value = await load()
        try:
            await self.redis.set(key, orjson.dumps({"v": value}, default=str),
                                 ex=ttl_seconds or self.ttl)
        except (RedisError, OSError):
            self.stats.count(self.keyspace, "error")
        return value

    async def invalidate(self, tenant: str) -> None:
        """After a write: readers of this tenant stop seeing anything cached before."""
        if self.generations is not None and not await self.generations.bump(tenant):
            self.stats.count(self.keyspace, "error")
