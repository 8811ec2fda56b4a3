"""A real TCP proxy on loopback that loses the first connections it carries: either
closed before anything is forwarded (the request never arrives), or forwarded and then
closed when the service starts to answer (the request was served, the reply is lost)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

Mode = Literal["refuse", "lose_reply"]


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


class FlakyProxy:
    def __init__(self, target: str, drops: int, mode: Mode) -> None:
        host, port = target.removeprefix("http://").split(":")
        self.host, self.port = host, int(port)
        self.drops, self.mode = drops, mode
        self.connections = 0
        self.url = ""

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        lose = self.connections <= self.drops
        if lose and self.mode == "refuse":
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection(self.host, self.port)
        upstream = asyncio.create_task(_pipe(reader, up_writer))
        if lose:
            await up_reader.read(1)  # the service has handled the request
            writer.close()
            up_writer.close()
            upstream.cancel()
            return
        await _pipe(up_reader, writer)
        upstream.cancel()


@asynccontextmanager
async def flaky_proxy(target: str, drops: int, mode: Mode) -> AsyncIterator[FlakyProxy]:
    proxy = FlakyProxy(target, drops, mode)
    server = await asyncio.start_server(proxy._handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    proxy.url = f"http://127.0.0.1:{port}"
    try:
        yield proxy
    finally:
        server.close()
