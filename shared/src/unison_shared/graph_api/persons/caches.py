"""Dropping a household's cached graph reads from Redis. Cache keys are digests of the
query (graph_cache.py), so an entry cannot be attributed to a person by its key: when a
person's graph is erased every entry of the tenant in the service's keyspaces goes (they
refill on the next read) and the tenant's generation is bumped so no replica trusts
anything cached before; a repeat erasure drops only entries whose value names them."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.exceptions import RedisError

from ...errors import DependencyUnavailable
from ...graph_cache import Generations, tenant_part

SCAN_COUNT = 500


class CachePurgeFailed(DependencyUnavailable):
    code, title = "cache-unavailable", "The cache could not be purged"

    def __init__(self) -> None:
        super().__init__("the graph was erased but its Redis cache could not be purged; "
                         "repeat the erasure (it is idempotent)",
                         headers={"Retry-After": "2"})


async def purge_tenant(redis: Redis | None, generations: Generations | None,
                       keyspaces: tuple[str, ...], tenant: str,
                       naming: str | None = None) -> int:
    """Unlink the cached entries of the tenant in `keyspaces` (only those whose value
    holds `naming`, when given); how many."""
    if redis is None:
        return 0
    count = 0
    part = tenant_part(tenant)  # hex: nothing in it is a glob character
    try:
        for keyspace in keyspaces:
            batch: list[bytes | str] = []
            async for key in redis.scan_iter(match=f"{keyspace}:{part}:*", count=SCAN_COUNT):
                if naming is not None and naming.encode() not in (await redis.get(key) or b""):
                    continue
                batch.append(key)
                if len(batch) >= SCAN_COUNT:
                    count += int(await redis.unlink(*batch))
                    batch = []
            if batch:
                count += int(await redis.unlink(*batch))
    except (RedisError, OSError) as exc:
        raise CachePurgeFailed() from exc
    if generations is not None and not await generations.bump(tenant):
        raise CachePurgeFailed()
    return count
