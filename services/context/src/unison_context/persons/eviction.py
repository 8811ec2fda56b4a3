"""Telling every replica that a person's data keys were destroyed. Each process keeps
unwrapped keys in memory (keys/service.py); after an erasure, a replica that still held
one would seal new records under a key that no longer exists anywhere else. The erasure
announces itself with NOTIFY in its own transaction (delivered only if it commits), and
every process listens on a connection of its own and drops the person's keys. When the
listening connection is lost, every cached key is dropped (an announcement may have been
missed) and the listener reconnects."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import orjson

from ..keys.service import PersonKeys

CHANNEL = "unison_context_keys_erased"
RECONNECT_SECONDS = 2.0
logger = logging.getLogger("unison.context.persons")


async def announce(pg: asyncpg.Connection, tenant_id: str, person_id: str) -> None:
    """Inside the erasure's transaction: heard by every replica once it commits."""
    await pg.execute("SELECT pg_notify($1, $2)", CHANNEL,
                     orjson.dumps([tenant_id, person_id]).decode())


class KeyEvictionListener:
    def __init__(self, dsn: str, keys: PersonKeys) -> None:
        self.dsn = dsn.replace("postgresql+asyncpg://", "postgresql://", 1)
        self.keys = keys
        self.connected = asyncio.Event()
        self._lost = asyncio.Event()

    def _heard(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            tenant_id, person_id = orjson.loads(payload)
        except (orjson.JSONDecodeError, ValueError):
            self.keys.forget_all()
            return
        self.keys.forget(str(tenant_id), str(person_id))

    def _terminated(self, _conn: object) -> None:
        self.keys.forget_all()
        self.connected.clear()
        self._lost.set()

    async def run(self) -> None:
        while True:
            try:
                conn = await asyncpg.connect(self.dsn)
            except (OSError, asyncpg.PostgresError) as exc:
                logger.warning("key eviction listener cannot connect: %s", type(exc).__name__)
                await asyncio.sleep(RECONNECT_SECONDS)
                continue
            try:
                self._lost.clear()
                conn.add_termination_listener(self._terminated)
                await conn.add_listener(CHANNEL, self._heard)
                self.keys.forget_all()  # anything announced while no one listened
                self.connected.set()
                await self._lost.wait()
            finally:
                self.connected.clear()
                with contextlib.suppress(Exception):
                    await conn.close()
            await asyncio.sleep(RECONNECT_SECONDS)


@asynccontextmanager
async def listening(dsn: str, keys: PersonKeys) -> AsyncIterator[KeyEvictionListener]:
    listener = KeyEvictionListener(dsn, keys)
    task = asyncio.create_task(listener.run(), name="context-key-eviction")
    try:
        # Not awaited: until it listens, nothing is lost (it drops every cached key
        # when it starts listening), and a database that is away must not hold up the
        # start (readiness reports it).
        yield listener
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
