"""A person's first data key is created inside the caller's transaction. If that
transaction rolls back, the process must not keep the key: the next write creates
another key, and records sealed under the forgotten one would never open again."""

from __future__ import annotations

import asyncpg
import pytest

from unison_context.keys.service import PersonKeys
from unison_shared.crypto import Keyring


@pytest.fixture
def keys() -> PersonKeys:
    return PersonKeys(Keyring(current="k1", keys={"k1": b"\x01" * 32}))


async def _connect(context_owner_url: str) -> asyncpg.Connection:
    pg = await asyncpg.connect(context_owner_url.replace("postgresql+asyncpg", "postgresql"))
    await pg.execute("SELECT set_config('app.tenant_id', 'h-cache', false)")
    return pg


async def test_a_key_created_in_a_rolled_back_transaction_is_not_kept(keys, context_db_url):
    pg = await _connect(context_db_url)
    try:
        tx = pg.transaction()
        await tx.start()
        version, lost = await keys.current(pg, "h-cache", "p-cache")
        assert version == 1
        _, again = await keys.current(pg, "h-cache", "p-cache")  # same transaction
        assert again == lost
        await tx.rollback()
        assert not keys.holds("h-cache", "p-cache")

        async with pg.transaction():
            _, stored = await keys.current(pg, "h-cache", "p-cache")
        assert stored != lost  # a new key: the rolled-back one is gone everywhere
        fresh = PersonKeys(keys.keyring)  # another replica, or this one after a restart
        async with pg.transaction():
            assert await fresh.by_version(pg, "h-cache", "p-cache", 1) == stored
            assert await keys.by_version(pg, "h-cache", "p-cache", 1) == stored
        assert keys.holds("h-cache", "p-cache")  # committed: now cached
    finally:
        await pg.close()
