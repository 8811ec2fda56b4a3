"""After a restore the graph services' caches are purged on a real Redis: their three
keyspaces go, everything else stays."""

from __future__ import annotations

from typing import Any

import redis

from unison_admin.caches import purge


def test_purge_removes_the_graph_caches_and_nothing_else(redis_server: Any):
    client = redis.Redis.from_url(redis_server.url)
    try:
        cached = [f"graph:hot:context:home:{i}" for i in range(1500)] + [
            "graph:hot:intent:gen:home", "context:cache:home:ann", "intent:cache:reports:x"]
        kept = ["auth:tokens:abc", "storage:cache:home:k", "graph:hotter", "context:other"]
        for key in cached + kept:
            client.set(key, "v", ex=600)
        assert purge(redis_server.url) == len(cached)
        assert [k for k in cached if client.exists(k)] == []
        assert all(client.exists(k) for k in kept)
        assert purge(redis_server.url) == 0
    finally:
        client.delete(*["auth:tokens:abc", "storage:cache:home:k", "graph:hotter",
                        "context:other"])
        client.close()
