"""`iterate` walks every page of a list call."""

from __future__ import annotations

from unison_client import UnisonClient, iterate


async def test_iterate_walks_every_page(u: UnisonClient) -> None:
    for i in range(7):
        await u.kv.put("paged", f"k{i}", i)
    keys = [rec.key async for rec in iterate(u.kv.list, "paged", limit=3)]
    assert keys == [f"k{i}" for i in range(7)]
    t = await u.threads.create("pager")
    for i in range(5):
        await u.messages.append(t.id, "user", str(i))
    newest = [m.content async for m in iterate(u.messages.list, t.id, order="newest",
                                                limit=2)]
    assert newest == ["4", "3", "2", "1", "0"]
    page = await u.kv.list("paged", limit=3)
    rest = [rec.key async for rec in iterate(u.kv.list, "paged", limit=3,
                                             cursor=page.next_cursor)]
    assert rest == [f"k{i}" for i in range(3, 7)]
