"""A small asyncpg connection pool that remembers each connection's session scope.

Row-level security reads the caller's tenant and person from session settings, so a
single autocommit statement needs them set on its connection first: one more round
trip, which on the hot paths (KV, memory, vault reads) cost more CPU than the statement
itself. This pool records the scope it last set on each connection and hands a caller,
when it can, an idle connection that already carries the caller's scope, so the setting
is skipped. With as many connections as concurrent callers, a caller keeps finding
"its" connection; with more callers than connections it degrades to setting the scope
every time, as before.

The invariant that makes the skip safe: the recorded scope is exactly the connection's
session-level `app.tenant_id` and `app.person_id`. Only this pool
sets them at session level, and records after the statement succeeded; everything else
sets them transaction-locally (`set_config(..., true)`), which reverts at the end of its
transaction. A connection whose state is in doubt (closed, or a ROLLBACK that failed) is
dropped, never reused.

It also costs less per checkout than asyncpg's own pool (no timer per release, no task
per acquire): ~27 against ~55-100 us of CPU here.

Its figures for /metrics (`PoolStats`: open, in use, idle, waiters, the time checkouts
waited) are read when Prometheus scrapes; a checkout that finds an idle connection only
adds one to a count, the clock is read only by checkouts that open or wait.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from types import TracebackType

import asyncpg

from .errors import DependencyUnavailable

Scope = tuple[str, str]  # (tenant_id, person_id)

# Exceptions after which a connection's protocol state is unknown. A PostgreSQL error
# (a constraint, a conflict) is not one: the driver finished the exchange before raising.
# InternalClientError: the driver's own state machine broke (seen when the server ends
# the backend while a statement is starting).
_IN_DOUBT = (asyncio.CancelledError, TimeoutError, asyncpg.InterfaceError,
             asyncpg.exceptions.InternalClientError, OSError)

# Upper bounds (seconds) of the checkout wait histogram (db_pool_acquire_seconds).
ACQUIRE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                   2.5, 5.0, 10.0, 30.0)

SESSION_SCOPE_SQL = ("SELECT set_config('app.tenant_id', $1, false), "
                     "set_config('app.person_id', $2, false)")


class Lease:
    """`async with pool.connection(scope) as conn`: a class rather than an
    @asynccontextmanager generator, which cost ~8k instructions more per block on the
    hottest path of every database request."""

    __slots__ = ("_conn", "_pool", "_scope")

    def __init__(self, pool: ScopedPool, scope: Scope | None) -> None:
        self._pool = pool
        self._scope = scope
        self._conn: asyncpg.Connection | None = None

    async def __aenter__(self) -> asyncpg.Connection:
        self._conn = await self._pool.acquire(self._scope)
        return self._conn

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        conn = self._conn
        assert conn is not None
        self._conn = None
        if exc_type is not None and issubclass(exc_type, _IN_DOUBT):
            # Cancelled or timed out mid-statement, the driver may still be waiting for
            # the server to acknowledge a cancel: the next user's statement would fail
            # on it. Give it up (the server ends the backend) rather than wait.
            conn.terminate()
        await self._pool.release(conn)


class ScopedPool:
    def __init__(self, connect: Callable[[], Awaitable[asyncpg.Connection]], max_size: int,
                 *, max_idle_seconds: float = 300.0, acquire_timeout: float = 30.0) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self._connect = connect
        self.max_size = max_size
        self.max_idle_seconds = max_idle_seconds
        self.acquire_timeout = acquire_timeout
        self._idle: OrderedDict[asyncpg.Connection, float] = OrderedDict()  # oldest first
        self._scopes: dict[asyncpg.Connection, Scope] = {}
        self._size = 0  # open connections, idle or not, plus ones being opened
        # A waiter receives a connection, or None: "capacity was freed, open one".
        self._waiters: deque[asyncio.Future[asyncpg.Connection | None]] = deque()
        self._closed = False
        self.scope_sets = 0  # scope statements sent (a figure for tests and benchmarks)
        # Metrics: checkouts served by an idle connection (no wait), the waits of the
        # others (opened a connection or waited for one) per bucket, their sum, timeouts.
        self.idle_checkouts = 0
        self.wait_counts = [0] * (len(ACQUIRE_BUCKETS) + 1)  # the last: beyond every bound
        self.wait_seconds = 0.0
        self.acquire_timeouts = 0
        self._opening = 0

    @property
    def size(self) -> int:
        """Open connections, idle or in use, and ones being opened."""
        return self._size

    @property
    def idle(self) -> int:
        return len(self._idle)

    @property
    def opening(self) -> int:
        return self._opening

    @property
    def in_use(self) -> int:
        """Connections checked out (open, neither idle nor being opened)."""
        return self._size - len(self._idle) - self._opening

    @property
    def waiting(self) -> int:
        """Callers waiting for a connection."""
        return sum(1 for w in self._waiters if not w.done())

    def connection(self, scope: Scope | None = None) -> Lease:
        """A connection for an `async with` block; with `scope`, carrying that session
        scope."""
        return Lease(self, scope)

    async def acquire(self, scope: Scope | None = None) -> asyncpg.Connection:
        conn = await self._checkout(scope)
        if scope is not None and self._scopes.get(conn) != scope:
            try:
                await conn.execute(SESSION_SCOPE_SQL, scope[0], scope[1])
            except BaseException:
                self._scopes.pop(conn, None)
                await self.release(conn)
                raise
            self._scopes[conn] = scope
            self.scope_sets += 1
        return conn

    async def release(self, conn: asyncpg.Connection) -> None:
        if not conn.is_closed() and conn.is_in_transaction():
            # A transaction left open by an error: undo it, or give the connection up.
            try:
                await conn.execute("ROLLBACK")
            except BaseException:
                conn.terminate()
        if conn.is_closed() or self._closed:
            if not conn.is_closed():
                conn.terminate()
            self._drop(conn)
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        self._idle[conn] = time.monotonic()

    async def close(self) -> None:
        """Close the idle connections; the ones in use close when released."""
        self._closed = True
        idle = list(self._idle)
        self._idle.clear()
        for conn in idle:
            self._drop(conn)
        await asyncio.gather(*(c.close(timeout=5) for c in idle), return_exceptions=True)
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(DependencyUnavailable("the database pool is closed"))

    # -- internals

    async def _checkout(self, scope: Scope | None) -> asyncpg.Connection:
        started = time.monotonic()
        deadline = started + self.acquire_timeout
        conn = None if self._closed else self._take_idle(scope)
        if conn is not None:  # the hot path: no wait to time
            self.idle_checkouts += 1
            return conn
        try:
            while True:
                if self._closed:
                    raise DependencyUnavailable("the database pool is closed")
                conn = self._take_idle(scope)
                if conn is not None:
                    return conn
                if self._size < self.max_size:
                    return await self._open()
                handed = await self._wait(deadline)
                if handed is not None:
                    return handed
        finally:
            self._record_wait(time.monotonic() - started)

    def _record_wait(self, seconds: float) -> None:
        self.wait_seconds += seconds
        for i, bound in enumerate(ACQUIRE_BUCKETS):
            if seconds <= bound:
                self.wait_counts[i] += 1
                return
        self.wait_counts[-1] += 1

    def _take_idle(self, scope: Scope | None) -> asyncpg.Connection | None:
        now = time.monotonic()
        while self._idle:  # the oldest first: close what idled too long
            oldest, since = next(iter(self._idle.items()))
            if now - since <= self.max_idle_seconds:
                break
            del self._idle[oldest]
            oldest.terminate()
            self._drop(oldest)
        if not self._idle:
            return None
        if scope is not None:
            for conn in reversed(self._idle):  # the most recently used match first
                if self._scopes.get(conn) == scope:
                    del self._idle[conn]
                    return conn
        # No match: the least recently used, whose scope is the least likely wanted.
        conn, _ = self._idle.popitem(last=False)
        return conn

    async def _open(self) -> asyncpg.Connection:
        self._size += 1
        self._opening += 1
        try:
            conn = await self._connect()
        except BaseException:
            self._size -= 1
            self._wake_one()
            raise
        finally:
            self._opening -= 1
        return conn

    async def _wait(self, deadline: float) -> asyncpg.Connection | None:
        waiter: asyncio.Future[asyncpg.Connection | None] = (
            asyncio.get_running_loop().create_future())
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                try:
                    return await waiter
                except asyncio.CancelledError:
                    # Handed a connection (or freed capacity) just as this caller was
                    # cancelled: pass it on rather than lose it.
                    if waiter.done() and not waiter.cancelled():
                        handed = waiter.result()
                        if handed is None:
                            self._wake_one()
                        else:
                            await self.release(handed)
                    raise
        except TimeoutError:
            self.acquire_timeouts += 1
            raise DependencyUnavailable(
                f"no database connection free within {self.acquire_timeout:g} s "
                f"({self.max_size} in use)") from None
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def _drop(self, conn: asyncpg.Connection) -> None:
        self._scopes.pop(conn, None)
        self._size -= 1
        self._wake_one()

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
