"""Row-level security: the database itself fences tenants, whatever the query says."""

from __future__ import annotations

import subprocess

import pytest

TABLES = ["kv_records", "memory_entries", "tenant_data_keys", "vault_secrets",
          "vault_versions", "audit_events", "audit_heads", "objects", "person_data_keys",
          "trace_summaries"]


def as_app_role(postgres, sql: str) -> str:
    return postgres.psql(sql, "storage_test", "unison")


@pytest.mark.parametrize("table", TABLES)
def test_every_table_forces_rls(postgres, storage_db_url, table):
    out = postgres.psql(
        f"SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = '{table}'",
        "storage_test").strip()
    assert out == "t|t"


def test_app_role_is_not_superuser_and_cannot_bypass(postgres, storage_db_url):
    out = postgres.psql("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'unison'")
    assert out.strip() == "f|f"


async def test_rows_of_another_tenant_are_invisible_even_without_where(client, alice, bob,
                                                                       postgres):
    await client.put("/v1/kv/ns/a", json={"value": 1}, headers=alice.headers)
    await client.put("/v1/kv/ns/b", json={"value": 2}, headers=bob.headers)
    seen = as_app_role(postgres, (
        f"BEGIN; SELECT set_config('app.tenant_id', '{alice.household_id}', true); "
        "SELECT tenant_id FROM kv_records; COMMIT;"))
    tenants = {line for line in seen.split() if line.startswith("h-")}
    assert tenants == {alice.household_id}
    # Without a tenant in scope nothing is visible at all.
    assert as_app_role(postgres, "SELECT count(*) FROM kv_records").strip() == "0"


def test_writes_into_another_tenant_are_refused(postgres, storage_db_url, alice, bob):
    with pytest.raises(subprocess.CalledProcessError) as err:
        as_app_role(postgres, (
            f"BEGIN; SELECT set_config('app.tenant_id', '{alice.household_id}', true); "
            "INSERT INTO kv_records (tenant_id, namespace, key, value) "
            f"VALUES ('{bob.household_id}', 'ns', 'k', '1'); COMMIT;"))
    assert "row-level security" in err.value.stderr
