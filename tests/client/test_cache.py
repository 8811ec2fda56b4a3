"""Cache surface: text and JSON values with a TTL, misses as None."""

from __future__ import annotations

import pytest

from unison_client import PayloadTooLargeError, UnisonClient


async def test_cache_text_and_json(u: UnisonClient) -> None:
    assert await u.cache.get("greeting") is None
    entry = await u.cache.set("greeting", "hello", ttl=60)
    assert entry.ttl == 60 and entry.value == "hello"
    assert await u.cache.get("greeting") == "hello"
    await u.cache.set_json("user:1", {"name": "Ada", "langs": ["en"]}, ttl=30)
    assert await u.cache.get_json("user:1") == {"name": "Ada", "langs": ["en"]}
    assert await u.cache.get_json("missing", default=[]) == []
    with pytest.raises(TypeError):
        await u.cache.get("user:1")
    stored = await u.cache.entry("user:1")
    assert stored is not None and 0 < stored.ttl <= 30
    assert await u.cache.delete("greeting") is True
    assert await u.cache.delete("greeting") is False
    assert await u.cache.get("greeting") is None
    assert await u.cache.cleanup() == 0  # user:1 is still live


async def test_cache_value_over_the_limit(u: UnisonClient) -> None:
    with pytest.raises(PayloadTooLargeError) as err:
        await u.cache.set("big", "x" * (2 << 20))
    assert err.value.status == 413
