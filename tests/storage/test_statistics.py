"""GET /v1/statistics: a household's rows and bytes per data class, nothing of another
household's; every tenant's totals only for an operator (service token, admin role)."""

from __future__ import annotations

from unison_devstack.tokens import mint_token
from unison_shared.testing import TEST_SECRET

S = "/v1/statistics"
OPS = {"Authorization": "Bearer " + mint_token(
    TEST_SECRET, person_id=None, household_id=None, sub="service-ops", type="service",
    roles=["service", "admin"])}


async def test_a_household_sees_its_own_counts(client, alice, bob, make_caller):
    housemate = make_caller(household_id=alice.household_id)
    await client.put("/v1/kv/ns/a", headers=alice.headers, json={"value": 1})
    await client.put("/v1/kv/ns/b", headers=housemate.headers, json={"value": 2})
    await client.post("/v1/objects", headers=alice.headers, content=b"x" * 1000)
    await client.put("/v1/vault/secrets/s", headers=alice.headers, json={"value": "v"})
    thread = (await client.post("/v1/threads", headers=alice.headers,
                                json={"agent_name": "a"})).json()["id"]
    await client.post(f"/v1/threads/{thread}/messages", headers=alice.headers,
                      json={"role": "user", "content": "hi"})
    for w, action in (("w1", None), ("w2", "cancel")):
        await client.post(f"/v1/workflows/{w}/suspend", headers=alice.headers, json={
            "workflow_name": "n", "current_step": "s", "context_state": {},
            "suspend_reason": {"kind": "waiting_for_approval"}})
        if action:
            await client.post(f"/v1/workflows/{w}/{action}", headers=alice.headers)
    r = await client.get(S, headers=housemate.headers)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["scope"] == "tenant" and got["tenant_id"] == alice.household_id
    c = got["classes"]
    assert c["kv_records"]["rows"] == 2 and c["kv_records"]["bytes"] > 0
    assert c["objects"] == {"rows": 1, "bytes": 1000}
    assert c["vault_secrets"]["rows"] == 1 and c["messages"]["rows"] == 1
    assert c["threads"]["rows"] == 1 and c["workflows"]["rows"] == 2
    assert got["workflows_by_status"] == {"cancelled": 1, "suspended": 1}
    assert got["bytes_total"] == sum(v["bytes"] for v in c.values())
    assert c["audit_events"]["rows"] >= 1
    theirs = (await client.get(S, headers=bob.headers)).json()
    assert all(v == {"rows": 0, "bytes": 0} for v in theirs["classes"].values())
    assert theirs["tenants"] == 0 and got["tenants"] == 1


async def test_every_tenant_only_for_an_operator(client, alice):
    await client.put("/v1/kv/ns/a", headers=alice.headers, json={"value": 1})
    assert (await client.get(S, headers=alice.headers,
                             params={"scope": "all"})).status_code == 403
    r = await client.get(S, headers=alice.headers, params={"scope": "everything"})
    assert r.status_code == 422 and "scope" in r.json()["errors"][0]["field"]
    mine = (await client.get(S, headers=alice.headers)).json()
    every = (await client.get(S, headers=OPS, params={"scope": "all"})).json()
    assert every["scope"] == "all" and every["tenant_id"] is None
    assert every["tenants"] >= 1
    assert every["classes"]["kv_records"]["rows"] >= mine["classes"]["kv_records"]["rows"]
    assert every["bytes_total"] >= mine["bytes_total"]


async def test_gauges_of_rows_and_bytes_per_class(client, alice, storage_app):
    from unison_shared.observability import Metrics
    from unison_storage.statistics.gauges import TableGauges, refresh
    from unison_storage.statistics.repository import TABLES

    await client.put("/v1/kv/ns/g", headers=alice.headers, json={"value": 1})
    metrics = Metrics("storage")
    await refresh(storage_app.state.services.db, TableGauges(metrics))
    registry = metrics.registry
    for name, _, _ in TABLES:
        assert registry.get_sample_value("storage_rows_estimate", {"data_class": name}) >= 0
        assert registry.get_sample_value("storage_table_bytes", {"data_class": name}) > 0
    # The service's own refresh (at start, then every interval) is on /metrics.
    text = (await client.get("/metrics")).text
    assert 'storage_table_bytes{data_class="kv_records"}' in text
