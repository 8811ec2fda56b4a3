"""Redis: one client per process. Redis is a cache only; callers degrade when it is down.

A client made with `create_redis(url, counters)` carries the app's cache counters
(`Metrics.caches`): a cache built on that client finds them with `cache_counters(client)`
and counts its hits, misses and errors there (cache_*_total on /metrics).
"""

from __future__ import annotations

from weakref import WeakKeyDictionary

from redis.asyncio import Redis

from .observability import CacheCounters

_COUNTERS: WeakKeyDictionary[Redis, CacheCounters] = WeakKeyDictionary()


def create_redis(url: str, counters: CacheCounters | None = None) -> Redis:
    client = Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2,
                            health_check_interval=30)
    if counters is not None:
        _COUNTERS[client] = counters
    return client


def cache_counters(client: Redis | None) -> CacheCounters | None:
    """The cache counters of the app whose lifespan made `client`, if any."""
    return None if client is None else _COUNTERS.get(client)
