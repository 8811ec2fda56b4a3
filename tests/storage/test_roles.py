"""The runtime role the service runs as cannot switch the protections off (storage
hardening §1): as that role, every statement an attacker who reached the connection
would try fails, and no setting widens what it sees. The system role sees every
tenant through its own policy; neither can become the other."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from unison_devstack.postgres import RUNTIME_ROLE, SYSTEM_ROLE
from unison_shared.testing import role_url


async def _connect(url: str, role: str) -> asyncpg.Connection:
    dsn = role_url(url, role).replace("postgresql+asyncpg://", "postgresql://", 1)
    conn: asyncpg.Connection = await asyncpg.connect(dsn)
    return conn


@pytest.fixture
async def runtime(storage_db_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await _connect(storage_db_url, RUNTIME_ROLE)
    yield conn
    await conn.close()


async def _scoped(conn: asyncpg.Connection, tenant: str) -> None:
    await conn.execute("SELECT set_config('app.tenant_id', $1, false), "
                       "set_config('app.person_id', 'p', false)", tenant)


async def _put_kv(conn: asyncpg.Connection, tenant: str, key: str) -> None:
    await _scoped(conn, tenant)
    await conn.execute(
        "INSERT INTO kv_records (tenant_id, person_id, namespace, key, value) "
        "VALUES ($1, 'p', 'roles-test', $2, '1'::jsonb)", tenant, key)


@pytest.mark.parametrize("statement", [
    "ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete",
    "ALTER TABLE audit_events DISABLE TRIGGER ALL",
    "ALTER TABLE kv_records NO FORCE ROW LEVEL SECURITY",
    "ALTER TABLE kv_records DISABLE ROW LEVEL SECURITY",
    "DROP POLICY kv_records_tenant ON kv_records",
    "TRUNCATE audit_events",
    "TRUNCATE kv_records",
    "DROP TABLE kv_records",
    "CREATE TABLE sneaky (x int)",
    f"SET ROLE {SYSTEM_ROLE}",
    "CREATE OR REPLACE FUNCTION app_tenant_visible(t text) RETURNS boolean "
    "LANGUAGE sql AS $$ SELECT true $$",
])
async def test_the_runtime_role_cannot_alter_what_protects_the_data(runtime, statement):
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await runtime.execute(statement)


async def test_app_system_set_by_a_session_shows_nothing_more(runtime):
    a, b = f"h-{uuid.uuid4().hex[:8]}", f"h-{uuid.uuid4().hex[:8]}"
    await _put_kv(runtime, a, "a-row")
    await _put_kv(runtime, b, "b-row")
    await _scoped(runtime, a)
    await runtime.execute("SELECT set_config('app.system', 'on', false)")
    seen = await runtime.fetch("SELECT tenant_id FROM kv_records WHERE namespace = "
                               "'roles-test' AND tenant_id IN ($1, $2)", a, b)
    assert [r[0] for r in seen] == [a]


async def test_audit_rows_are_written_only_through_the_append_function(runtime):
    tenant = f"h-{uuid.uuid4().hex[:8]}"
    await _scoped(runtime, tenant)
    appended = await runtime.fetchrow(
        "SELECT o_seq, o_hash FROM audit_append($1, 'p', NULL, 'actor', 'act', NULL, NULL, "
        "'ok', 'p', '{}'::jsonb)", tenant)
    assert appended[0] == 1
    forged = ("INSERT INTO audit_events (tenant_id, seq, id, action, created_at, prev_hash, "
              "hash) VALUES ($1, 99, 'forged', 'x', now(), 'y', 'y')")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await runtime.execute(forged, tenant)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await runtime.execute("UPDATE audit_events SET action = 'rewritten' "
                              "WHERE tenant_id = $1", tenant)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await runtime.execute("DELETE FROM audit_events WHERE tenant_id = $1", tenant)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await runtime.execute("UPDATE audit_heads SET seq = 0 WHERE tenant_id = $1", tenant)
    rows = await runtime.fetch("SELECT seq, action FROM audit_events WHERE tenant_id = $1",
                               tenant)
    assert [tuple(r) for r in rows] == [(1, "act")]


async def test_the_append_function_appends_only_in_the_sessions_tenant(runtime):
    mine, theirs = f"h-{uuid.uuid4().hex[:8]}", f"h-{uuid.uuid4().hex[:8]}"
    await _scoped(runtime, mine)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="scope"):
        await runtime.fetchrow(
            "SELECT * FROM audit_append($1, 'p', NULL, 'a', 'x', NULL, NULL, 'ok', 'p', "
            "'{}'::jsonb)", theirs)


async def test_the_system_role_sees_every_tenant_and_cannot_rewrite_audit(storage_db_url,
                                                                          runtime):
    a, b = f"h-{uuid.uuid4().hex[:8]}", f"h-{uuid.uuid4().hex[:8]}"
    await _put_kv(runtime, a, "a-row")
    await _put_kv(runtime, b, "b-row")
    system = await _connect(storage_db_url, SYSTEM_ROLE)
    try:
        seen = await system.fetch("SELECT tenant_id FROM kv_records WHERE namespace = "
                                  "'roles-test' AND tenant_id IN ($1, $2) ORDER BY 1", a, b)
        assert sorted(r[0] for r in seen) == sorted([a, b])
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await system.execute("DELETE FROM audit_events")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await system.execute(f"SET ROLE {RUNTIME_ROLE}")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await system.execute("ALTER TABLE kv_records NO FORCE ROW LEVEL SECURITY")
    finally:
        await system.close()


async def test_the_service_runs_its_requests_as_the_runtime_role(storage_app):
    db = storage_app.state.database
    async with db.pool.connection() as conn:
        assert await conn.fetchval("SELECT current_user") == RUNTIME_ROLE
    async with db.system() as conn:
        from sqlalchemy import text

        assert (await conn.execute(text("SELECT current_user"))).scalar() == SYSTEM_ROLE
