"""A blocking facade for scripts: the async client on an event loop of its own thread.

    with SyncUnisonClient() as u:
        u.vault.put("api-key", "s3cr3t")
        print(u.cache.get_json("greeting"))

Every surface method of UnisonClient is there with the same arguments; what it returns
is the same, except that async iterators (`objects.stream`) become plain iterators.
Upload sources must be bytes, a path or a binary file (or a plain iterator).
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import AsyncIterator, Awaitable, Iterator
from types import TracebackType
from typing import Any, TypeVar

from .client import UnisonClient

T = TypeVar("T")


class _Loop:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                       name="unison-client")
        self.thread.start()

    def run(self, aw: Awaitable[T]) -> T:
        async def wrap() -> T:
            return await aw
        return asyncio.run_coroutine_threadsafe(wrap(), self.loop).result()

    def iterate(self, ait: AsyncIterator[Any]) -> Iterator[Any]:
        try:
            while True:
                try:
                    yield self.run(ait.__anext__())
                except StopAsyncIteration:
                    return
        finally:
            closer = getattr(ait, "aclose", None)
            if closer is not None:
                self.run(closer())

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


class _Blocking:
    """Calls `target`'s methods and waits for them on the loop."""

    def __init__(self, target: Any, loop: _Loop) -> None:
        self._target = target
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            result = attr(*args, **kwargs)
            if inspect.isawaitable(result):
                return self._loop.run(result)
            if isinstance(result, AsyncIterator):
                return self._loop.iterate(result)
            return result

        call.__doc__ = attr.__doc__
        return call


class SyncUnisonClient:
    """UnisonClient for code without an event loop; same arguments."""

    SURFACES = ("kv", "memory", "vault", "audit", "objects", "files", "cache", "threads",
                "messages", "state", "artifacts", "metrics", "vectors", "profiles",
                "dashboards", "conversations")

    def __init__(self, **kwargs: Any) -> None:
        self._loop = _Loop()

        async def make() -> UnisonClient:
            return UnisonClient(**kwargs)

        self._client = self._loop.run(make())
        for name in self.SURFACES:
            setattr(self, name, _Blocking(getattr(self._client, name), self._loop))

    def __getattr__(self, name: str) -> Any:  # surfaces are set in __init__
        return getattr(_Blocking(self._client, self._loop), name)

    def close(self) -> None:
        self._loop.run(self._client.aclose())
        self._loop.stop()

    def __enter__(self) -> SyncUnisonClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
