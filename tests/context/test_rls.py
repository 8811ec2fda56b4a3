"""Row-level security on every context table: the database itself fences tenants,
whatever a query says, for the runtime role the service connects as."""

from __future__ import annotations

import asyncpg
import pytest

TABLES = ["person_data_keys", "profiles", "profile_history", "profile_credentials",
          "dashboards", "conversation_sessions", "conversation_messages", "context_kv"]


@pytest.fixture
async def runtime(context_env):
    dsn = context_env["UNISON_DATABASE_URL"].replace("postgresql+asyncpg://",
                                                     "postgresql://", 1)
    conn = await asyncpg.connect(dsn)
    try:
        yield conn
    finally:
        await conn.close()


async def test_every_table_forces_rls(raw_db):
    rows = await raw_db.fetch(
        "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
        "WHERE relname = ANY($1::text[])", TABLES)
    assert {r["relname"] for r in rows} == set(TABLES)
    assert all(r["relrowsecurity"] and r["relforcerowsecurity"] for r in rows)


async def test_runtime_role_sees_only_its_tenant(client, alice, bob, runtime):
    for caller in (alice, bob):
        pid = caller.person_id
        assert (await client.post(f"/profile/{pid}", headers=caller.headers,
                                  json={"profile": {"x": 1}})).json()["ok"]
        assert (await client.post(f"/conversation/{pid}/s", headers=caller.headers,
                                  json={"messages": [{"content": "x"}]})).json()["ok"]
    for table in TABLES:
        # No tenant in scope: nothing at all.
        assert await runtime.fetchval(f"SELECT count(*) FROM {table}") == 0, table
    async with runtime.transaction():
        await runtime.execute("SELECT set_config('app.tenant_id', $1, true)",
                              alice.household_id)
        for table in ("profiles", "profile_history", "person_data_keys",
                      "conversation_sessions", "conversation_messages"):
            tenants = {r[0] for r in await runtime.fetch(f"SELECT tenant_id FROM {table}")}
            assert tenants == {alice.household_id}, table
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await runtime.execute(
                "INSERT INTO conversation_sessions (tenant_id, person_id, session_id) "
                "VALUES ($1, $2, 'intruder')", bob.household_id, bob.person_id)
