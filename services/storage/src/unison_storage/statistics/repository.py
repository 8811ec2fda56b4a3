"""SQL of the statistics: per data class its rows and bytes (`pg_column_size` of the
rows; objects add their payload bytes), in one statement. `$1` is the tenant, or NULL
for every tenant (the system role's view)."""

from __future__ import annotations

from typing import Any

import asyncpg

# (class, table, bytes expression)
TABLES: tuple[tuple[str, str, str], ...] = (
    ("threads", "threads", "pg_column_size(t.*)"),
    ("messages", "thread_messages", "pg_column_size(t.*)"),
    ("state_versions", "thread_state_versions", "pg_column_size(t.*)"),
    ("artifacts", "thread_artifacts", "pg_column_size(t.*)"),
    ("spans", "trace_spans", "pg_column_size(t.*)"),
    ("eval_datasets", "eval_datasets", "pg_column_size(t.*)"),
    ("eval_items", "eval_items", "pg_column_size(t.*)"),
    ("eval_runs", "eval_runs", "pg_column_size(t.*)"),
    ("eval_scores", "eval_scores", "pg_column_size(t.*)"),
    ("workflows", "workflows", "pg_column_size(t.*)"),
    ("objects", "objects", "t.size_bytes"),
    ("vault_secrets", "vault_secrets", "pg_column_size(t.*)"),
    ("vault_versions", "vault_versions", "pg_column_size(t.*)"),
    ("memory_entries", "memory_entries", "pg_column_size(t.*)"),
    ("kv_records", "kv_records", "pg_column_size(t.*)"),
    ("metrics", "agent_metrics", "pg_column_size(t.*)"),
    ("audit_events", "audit_events", "pg_column_size(t.*)"),
)

_SCOPE = "($1::text IS NULL OR t.tenant_id = $1)"
_COUNTS = "SELECT " + ", ".join(
    f"(SELECT ARRAY[count(*), COALESCE(sum({size}), 0)] FROM {table} t WHERE {_SCOPE})"
    for _, table, size in TABLES)
_BY_STATUS = (f"SELECT t.status, count(*) FROM workflows t WHERE {_SCOPE} "
              "GROUP BY t.status ORDER BY t.status")
_TENANTS = (f"SELECT count(DISTINCT t.tenant_id) FROM (SELECT tenant_id FROM threads "
            "UNION SELECT tenant_id FROM objects UNION SELECT tenant_id FROM kv_records "
            "UNION SELECT tenant_id FROM memory_entries UNION SELECT tenant_id FROM "
            f"vault_secrets UNION SELECT tenant_id FROM trace_spans) t WHERE {_SCOPE}")


async def counts(pg: asyncpg.Connection, tenant: str | None) -> dict[str, Any]:
    row = await pg.fetchrow(_COUNTS, tenant)
    by_status = {r[0]: r[1] for r in await pg.fetch(_BY_STATUS, tenant)}
    tenants = await pg.fetchval(_TENANTS, tenant)
    return {"classes": {name: (int(v[0]), int(v[1])) for (name, _, _), v in zip(
        TABLES, row.values(), strict=True)}, "workflows_by_status": by_status,
        "tenants": tenants}
