"""The graph services' Redis caches, purged after a restore: they hold traversals,
context states and routing answers computed from the graph as it was (a cache is never
the source of truth, so dropping it loses nothing). Keyspaces: `graph:hot:*` (with the
per-tenant generation keys, which restart from the clock), `context:cache:*`,
`intent:cache:*`. Nothing else in Redis is touched."""

from __future__ import annotations

import redis

KEYSPACES = ("graph:hot:", "context:cache:", "intent:cache:")


def purge(url: str) -> int:
    """Delete every key of the keyspaces; how many were deleted."""
    client = redis.Redis.from_url(url)
    deleted = 0
    try:
        for prefix in KEYSPACES:
            batch: list[bytes] = []
            for key in client.scan_iter(match=f"{prefix}*", count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    deleted += int(client.unlink(*batch))
                    batch = []
            if batch:
                deleted += int(client.unlink(*batch))
    finally:
        client.close()
    return deleted
