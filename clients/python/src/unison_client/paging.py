"""Every item of a paged list, fetching the next page when the last one is used up."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

T_co = TypeVar("T_co", covariant=True)
T = TypeVar("T")


class Page(Protocol[T_co]):
    @property
    def items(self) -> Sequence[T_co]: ...

    @property
    def next_cursor(self) -> str | None: ...


async def iterate(fetch: Callable[..., Awaitable[Page[T]]], *args: Any,
                  **kwargs: Any) -> AsyncIterator[T]:
    """`async for rec in iterate(u.kv.list, "prefs", limit=500)`: the items of every
    page in turn (the list call's own arguments, `cursor` where to start)."""
    cursor = kwargs.pop("cursor", None)
    while True:
        page = await fetch(*args, cursor=cursor, **kwargs)
        for item in page.items:
            yield item
        cursor = page.next_cursor
        if not cursor:
            return
