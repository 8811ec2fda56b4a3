"""Counting the statements a request sends on the statement pool's asyncpg connections:
each is one round trip to PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest


class StatementLog:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def log(self, record: Any) -> None:
        self.sent.append(record.query)

    async def of(self, request: Awaitable[Any]) -> list[str]:
        """The statements one request sent (the pool's scope statement, which depends on
        the connection it happens to pick, left out)."""
        self.sent.clear()
        r = await request
        assert r.is_success, r.text
        await asyncio.sleep(0.01)  # the loggers run on the next loop iterations
        return [q for q in self.sent if "set_config('app.tenant_id'" not in q]


@contextmanager
def statement_log(pool: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[StatementLog]:
    acquire = pool.acquire
    statements = StatementLog()
    logged: set[Any] = set()

    async def acquire_logged(*args: Any, **kwargs: Any) -> Any:
        conn = await acquire(*args, **kwargs)
        if conn not in logged:
            conn.add_query_logger(statements.log)
            logged.add(conn)
        return conn

    monkeypatch.setattr(pool, "acquire", acquire_logged)
    try:
        yield statements
    finally:
        monkeypatch.setattr(pool, "acquire", acquire)
        for conn in logged:
            conn.remove_query_logger(statements.log)
