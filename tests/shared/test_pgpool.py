"""ScopedPool against a real PostgreSQL: the scope it records always matches the
connection's session scope (so skipping the statement is safe), row-level security
follows it across tenants, and the pool survives broken connections, open
transactions, exhaustion, cancellation and close."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from unison_shared.database import create_statement_pool
from unison_shared.errors import DependencyUnavailable
from unison_shared.pgpool import ScopedPool

SETTINGS = ("SELECT current_setting('app.tenant_id', true), "
            "current_setting('app.person_id', true)")


def _scope() -> tuple[str, str]:
    return (f"t-{uuid.uuid4().hex[:8]}", f"p-{uuid.uuid4().hex[:8]}")


async def _pool(url: str, size: int = 1, **options: float) -> ScopedPool:
    pool = await create_statement_pool(url, size, application_name="pgpool-test")
    for name, value in options.items():
        setattr(pool, name, value)
    return pool


async def _put(pool: ScopedPool, scope: tuple[str, str], key: str) -> None:
    async with pool.connection(scope) as pg:
        await pg.execute(
            "INSERT INTO kv_records (tenant_id, person_id, namespace, key, value, version) "
            "VALUES ($1, $2, 'pool-test', $3, '1'::jsonb, 1)", scope[0], scope[1], key)


async def _visible(pool: ScopedPool, scope: tuple[str, str]) -> set[str]:
    # No tenant filter on purpose: only row-level security (the session scope) decides.
    async with pool.connection(scope) as pg:
        rows = await pg.fetch("SELECT key FROM kv_records WHERE namespace = 'pool-test'")
    return {r["key"] for r in rows}


async def test_same_scope_skips_the_statement_and_the_setting_is_there(storage_db_url):
    pool = await _pool(storage_db_url)
    scope = _scope()
    try:
        for _ in range(3):
            async with pool.connection(scope) as pg:
                assert tuple(await pg.fetchrow(SETTINGS)) == scope
        assert pool.scope_sets == 1
    finally:
        await pool.close()


async def test_alternating_tenants_on_one_connection_each_see_only_their_rows(storage_db_url):
    pool = await _pool(storage_db_url)
    a, b = _scope(), _scope()
    try:
        await _put(pool, a, "a-row")
        await _put(pool, b, "b-row")
        for _ in range(3):
            assert await _visible(pool, a) == {"a-row"}
            assert await _visible(pool, b) == {"b-row"}
        assert pool.size == 1 and pool.scope_sets >= 8
    finally:
        await pool.close()


async def test_transaction_local_scope_reverts_to_the_recorded_one(storage_db_url):
    pool = await _pool(storage_db_url)
    a, b = _scope(), _scope()
    try:
        async with pool.connection(a):
            pass
        async with pool.connection() as pg, pg.transaction():
            await pg.execute("SELECT set_config('app.tenant_id', $1, true)", b[0])
            assert await pg.fetchval("SELECT current_setting('app.tenant_id')") == b[0]
        sets = pool.scope_sets
        async with pool.connection(a) as pg:
            assert tuple(await pg.fetchrow(SETTINGS)) == a
        assert pool.scope_sets == sets  # skipped, and rightly so
    finally:
        await pool.close()


async def test_a_transaction_left_open_is_rolled_back_on_release(storage_db_url):
    pool = await _pool(storage_db_url)
    scope = _scope()
    try:
        conn = await pool.acquire(scope)
        await conn.execute("BEGIN")
        await conn.execute(
            "INSERT INTO kv_records (tenant_id, person_id, namespace, key, value, version) "
            "VALUES ($1, $2, 'pool-test', 'never', '1'::jsonb, 1)", *scope)
        await pool.release(conn)
        async with pool.connection(scope) as pg:
            assert not pg.is_in_transaction()
        assert await _visible(pool, scope) == set()
    finally:
        await pool.close()


async def test_a_failed_scope_statement_forgets_the_scope(storage_db_url):
    pool = await _pool(storage_db_url)
    scope = _scope()
    try:
        async with pool.connection(scope):
            pass
        with pytest.raises(asyncpg.PostgresError):  # PostgreSQL text cannot hold NUL
            await pool.acquire(("bad\x00tenant", "p"))
        # The connection the failure happened on does not claim any scope any more.
        sets = pool.scope_sets
        async with pool.connection(scope) as pg:
            assert tuple(await pg.fetchrow(SETTINGS)) == scope
        assert pool.scope_sets == sets + 1
    finally:
        await pool.close()


async def test_a_broken_connection_is_dropped_and_replaced(storage_db_url):
    pool = await _pool(storage_db_url)
    scope = _scope()
    try:
        async with pool.connection(scope) as pg:
            pid = pg.get_server_pid()
        async with pool.connection() as other:
            # The only connection: terminate it from a fresh, unpooled one.
            assert other.get_server_pid() == pid
        killer = await _pool(storage_db_url)
        async with killer.connection() as k:
            assert await k.fetchval("SELECT pg_terminate_backend($1)", pid)
        await killer.close()
        # Which error the driver raises depends on when the server's goodbye arrives.
        with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, ConnectionError,
                            asyncpg.exceptions.InternalClientError)):
            async with pool.connection(scope) as pg:
                await pg.fetchval("SELECT 1")
        assert pool.size == 0
        async with pool.connection(scope) as pg:
            assert pg.get_server_pid() != pid
            assert tuple(await pg.fetchrow(SETTINGS)) == scope
    finally:
        await pool.close()


async def test_a_statement_cancelled_mid_flight_does_not_reach_the_next_caller(
        storage_db_url):
    pool = await _pool(storage_db_url)
    scope = _scope()
    try:
        async def slow() -> None:
            async with pool.connection(scope) as pg:
                await pg.execute("SELECT pg_sleep(5)")

        with pytest.raises(TimeoutError):
            await asyncio.wait_for(slow(), 0.2)
        assert pool.size == 0  # given up, not handed on mid-cancel
        async with pool.connection(scope) as pg:
            assert await pg.fetchval("SELECT 41 + 1") == 42
        # A PostgreSQL error leaves the connection fine: it is kept.
        used: list[asyncpg.Connection] = []

        async def divide_by_zero() -> None:
            async with pool.connection(scope) as pg:
                used.append(pg)
                await pg.execute("SELECT 1 / 0")

        with pytest.raises(asyncpg.PostgresError):
            await divide_by_zero()
        async with pool.connection(scope) as pg:
            assert pg is used[0] and await pg.fetchval("SELECT 1") == 1
    finally:
        await pool.close()


async def test_exhaustion_waits_then_answers_503(storage_db_url):
    pool = await _pool(storage_db_url, acquire_timeout=0.3)
    try:
        held = await pool.acquire()
        waiter = asyncio.create_task(pool.acquire())
        await asyncio.sleep(0.05)
        assert not waiter.done()
        await pool.release(held)
        got = await asyncio.wait_for(waiter, 1)
        assert got is held  # handed over directly
        with pytest.raises(DependencyUnavailable, match="no database connection free"):
            await pool.acquire()
        await pool.release(got)
    finally:
        await pool.close()


async def test_a_cancelled_waiter_loses_nothing(storage_db_url):
    pool = await _pool(storage_db_url)
    try:
        held = await pool.acquire()
        waiter = asyncio.create_task(pool.acquire())
        await asyncio.sleep(0.05)
        waiter.cancel()
        await pool.release(held)
        with pytest.raises(asyncio.CancelledError):
            await waiter
        again = await asyncio.wait_for(pool.acquire(), 1)
        assert again is held and pool.size == 1
        await pool.release(again)
    finally:
        await pool.close()


async def test_concurrent_callers_share_the_pool_within_its_size(storage_db_url):
    pool = await _pool(storage_db_url, size=3)
    scopes = [_scope() for _ in range(6)]
    try:
        async def one(scope: tuple[str, str]) -> tuple[str, str, str]:
            async with pool.connection(scope) as pg:
                await asyncio.sleep(0.01)
                return tuple(await pg.fetchrow(SETTINGS))

        results = await asyncio.gather(*(one(s) for s in scopes * 5))
        assert results == list(scopes * 5)
        assert pool.size <= 3
    finally:
        await pool.close()


async def test_closed_pool_refuses_and_closes_connections(storage_db_url):
    pool = await _pool(storage_db_url)
    async with pool.connection() as pg:
        conn = pg
    await pool.close()
    assert conn.is_closed() and pool.size == 0
    with pytest.raises(DependencyUnavailable, match="closed"):
        await pool.acquire()
