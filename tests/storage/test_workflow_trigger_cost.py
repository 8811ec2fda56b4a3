"""What the workflow triggers cost a write nobody waits for: no extra round trip (a KV
PUT stays one statement), and inside PostgreSQL one probe of the partial index of open
conditions, timed with EXPLAIN ANALYZE (which reports trigger time on its own) while
thousands of other tenants' conditions are open."""

from __future__ import annotations

import statistics
import uuid

import asyncpg
import orjson

from unison_shared.testing import role_url

from .statements import statement_log
from .workflow_helpers import system_fetch

_UPSERT = ("INSERT INTO kv_records (tenant_id, person_id, namespace, key, value) "
           "VALUES ($1, $2, 'bench', $3, $4::jsonb) ON CONFLICT (tenant_id, person_id, "
           "namespace, key) DO UPDATE SET value = EXCLUDED.value, "
           "version = kv_records.version + 1, updated_at = now()")
_BULK = """
WITH w AS (INSERT INTO workflows (tenant_id, person_id, id, workflow_name, current_step,
             status, mode, suspend_reason, suspension_id, dek_version, context_enc,
             context_bytes)
           SELECT $1, 'p', 'w' || i, 'bulk', 's', 'suspended', 'all', '{}', gen_random_uuid(),
                  1, '\\x00', 1 FROM generate_series(1, 2000) i RETURNING id)
INSERT INTO workflow_conditions (tenant_id, person_id, workflow_id, position, kind, target,
                                 target_key, spec)
SELECT $1, 'p', w.id, k, 'kv_written', 'bench', 'k' || k, '{}' FROM w, generate_series(1, 5) k
"""


async def test_a_kv_write_stays_one_statement(client, alice, storage_app, monkeypatch):
    h = alice.headers
    await client.put("/v1/kv/ns/warm", json={"value": 0}, headers=h)
    with statement_log(storage_app.state.database.pool, monkeypatch) as log:
        sent = await log.of(client.put("/v1/kv/ns/k", json={"value": 1}, headers=h))
    assert len(sent) == 1, sent


async def test_trigger_time_of_a_kv_write(storage_db_url, capsys):
    await system_fetch(storage_db_url, _BULK, f"h-bulk-{uuid.uuid4().hex[:8]}")
    tenant, person = f"h-{uuid.uuid4().hex[:8]}", "p"
    conn = await asyncpg.connect(role_url(storage_db_url, "unison_app")
                                 .replace("+asyncpg", ""))
    try:
        await conn.execute("SELECT set_config('app.tenant_id', $1, false), "
                           "set_config('app.person_id', $2, false)", tenant, person)
        trigger_ms, total_ms = [], []
        for i in range(300):
            plan = orjson.loads(await conn.fetchval(
                f"EXPLAIN (ANALYZE, FORMAT JSON) {_UPSERT}", tenant, person, f"k{i % 50}",
                str(i)))[0]
            [trig] = [t for t in plan["Triggers"] if t["Trigger Name"] == "workflow_conditions"]
            assert trig["Calls"] == 1
            trigger_ms.append(trig["Time"])
            total_ms.append(plan["Execution Time"])
        # The probe the trigger runs uses the partial index of open conditions.
        probe = "\n".join(r[0] for r in await conn.fetch(
            "EXPLAIN SELECT 1 FROM workflow_conditions WHERE tenant_id = $1 AND person_id = $2 "
            "AND kind = 'kv_written' AND target = 'bench' AND target_key = 'k1' "
            "AND satisfied_at IS NULL AND NOT closed", tenant, person))
        assert "workflow_conditions_open" in probe, probe
    finally:
        await conn.close()
    med_t, med_all = statistics.median(trigger_ms), statistics.median(total_ms)
    with capsys.disabled():
        print(f"\nKV upsert: median execution {med_all:.3f} ms, of which the workflow "
              f"trigger {med_t:.3f} ms (p95 {statistics.quantiles(trigger_ms, n=20)[-1]:.3f} "
              "ms), 10000 other conditions open")
    assert med_t < med_all
