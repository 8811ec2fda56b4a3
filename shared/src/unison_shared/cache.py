"""Redis: one client per process. Redis is a cache only; callers degrade when it is down."""

from __future__ import annotations

from redis.asyncio import Redis


def create_redis(url: str) -> Redis:
    return Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2,
                          health_check_interval=30)
