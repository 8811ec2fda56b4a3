"""/v1/threads/{id}/state: versions, one version, restore, If-Match check-and-set under
concurrency, large states offloaded as sealed objects, pruning, and no plaintext agent
state in any column."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from .agent_helpers import count_rows, new_thread

T = "/v1/threads"


async def test_versions_read_restore(client, alice):
    tid = (await new_thread(client, alice))["id"]
    st = f"{T}/{tid}/state"
    assert (await client.get(st, headers=alice.headers)).status_code == 404
    for i in range(3):
        r = await client.put(st, json={"data": {"step": i}}, headers=alice.headers)
        assert r.status_code == 200 and r.json()["version"] == i + 1
        assert r.headers["etag"] == f'"{i + 1}"'
    latest = await client.get(st, headers=alice.headers)
    assert latest.json()["data"] == {"step": 2} and latest.headers["etag"] == '"3"'
    versions = (await client.get(f"{st}/versions", headers=alice.headers)).json()
    assert versions["current_version"] == 3
    assert [v["version"] for v in versions["items"]] == [3, 2, 1]
    one = await client.get(f"{st}/versions/1", headers=alice.headers)
    assert one.json()["data"] == {"step": 0} and one.json()["version"] == 1
    assert (await client.get(f"{st}/versions/9", headers=alice.headers)).status_code == 404
    assert (await client.get(f"{st}/versions/0", headers=alice.headers)).status_code == 422
    restored = await client.post(f"{st}/restore", json={"version": 1}, headers=alice.headers)
    assert restored.status_code == 200 and restored.json() == {
        **restored.json(), "version": 4, "data": {"step": 0}}
    assert (await client.post(f"{st}/restore", json={"version": 99},
                              headers=alice.headers)).status_code == 404
    thread = (await client.get(f"{T}/{tid}", headers=alice.headers)).json()
    assert thread["state_version"] == 4
    for body in ({"data": [1]}, {"nodata": 1}):
        assert (await client.put(st, json=body, headers=alice.headers)).status_code == 422
    gone = await client.delete(st, headers=alice.headers)
    assert gone.json() == {"thread_id": tid, "deleted": 4}
    assert (await client.get(st, headers=alice.headers)).status_code == 404
    missing = f"{T}/session_0000000000000000/state"
    for r in (await client.get(missing, headers=alice.headers),
              await client.put(missing, json={"data": {}}, headers=alice.headers),
              await client.get(f"{missing}/versions", headers=alice.headers),
              await client.post(f"{missing}/restore", json={"version": 1},
                                headers=alice.headers),
              await client.delete(missing, headers=alice.headers)):
        assert r.status_code == 404, r.text


async def test_if_match(client, alice):
    tid = (await new_thread(client, alice))["id"]
    st = f"{T}/{tid}/state"
    r = await client.put(st, json={"data": {"a": 1}}, headers={**alice.headers,
                                                               "If-Match": '"0"'})
    assert r.status_code == 200 and r.json()["version"] == 1
    stale = await client.put(st, json={"data": {"a": 2}},
                             headers={**alice.headers, "If-Match": '"0"'})
    assert stale.status_code == 412
    assert stale.headers["content-type"].startswith("application/problem+json")
    ok = await client.put(st, json={"data": {"a": 2}}, headers={**alice.headers,
                                                                "If-Match": '"1"'})
    assert ok.status_code == 200 and ok.json()["version"] == 2
    assert (await client.put(st, json={"data": {}}, headers={**alice.headers,
                                                             "If-Match": "abc"})
            ).status_code == 412
    r = await client.post(f"{st}/restore", json={"version": 1},
                          headers={**alice.headers, "If-Match": '"1"'})
    assert r.status_code == 412
    assert (await client.get(st, headers=alice.headers)).json()["data"] == {"a": 2}


async def test_cas_under_concurrency(client, alice):
    tid = (await new_thread(client, alice))["id"]
    st = f"{T}/{tid}/state"
    await client.put(st, json={"data": {"n": 0}}, headers=alice.headers)
    results = await asyncio.gather(*[
        client.put(st, json={"data": {"n": i}}, headers={**alice.headers, "If-Match": '"1"'})
        for i in range(12)])
    codes = sorted(r.status_code for r in results)
    assert codes == [200] + [412] * 11
    winner = next(r.json() for r in results if r.status_code == 200)
    assert winner["version"] == 2
    assert (await client.get(st, headers=alice.headers)).json()["data"] == winner["data"]
    # Without If-Match every write lands, each a version of its own.
    results = await asyncio.gather(*[
        client.put(st, json={"data": {"m": i}}, headers=alice.headers) for i in range(10)])
    assert sorted(r.json()["version"] for r in results) == list(range(3, 13))


async def test_large_state_pruning_and_no_plaintext(client, alice, storage_app,
                                                    storage_settings_factory):
    tid = (await new_thread(client, alice))["id"]
    st = f"{T}/{tid}/state"
    secret = "sk-live-PLAINTEXT-CREDENTIAL-0123456789"
    big = {"token": secret, "pad": "z" * 100_000}
    r = await client.put(st, json={"data": big}, headers=alice.headers)
    assert r.status_code == 200
    assert (await client.get(st, headers=alice.headers)).json()["data"] == big
    db = storage_app.state.database
    tenant = alice.household_id
    assert await count_rows(db, tenant, "thread_state_versions", "object_id IS NOT NULL") == 1
    assert await count_rows(db, tenant, "objects") == 1
    blobs = list(storage_app.state.services.objects.store.root.rglob(f"{tenant}/*/*"))
    assert len(blobs) == 1 and secret.encode() not in blobs[0].read_bytes()
    max_versions = storage_settings_factory().storage.agent_state_max_versions
    for i in range(max_versions + 2):
        await client.put(st, json={"data": {"token": secret, "i": i}}, headers=alice.headers)
    versions = (await client.get(f"{st}/versions", headers=alice.headers)).json()["items"]
    assert len(versions) == max_versions and versions[0]["version"] == max_versions + 3
    assert await count_rows(db, tenant, "objects") == 0  # the big version was pruned
    async with db.system() as conn:
        rows = (await conn.execute(text(
            "SELECT t::text FROM thread_state_versions t WHERE tenant_id = :t"),
            {"t": tenant})).all()
        dump = "".join(r[0] for r in rows)
    assert len(rows) == max_versions
    assert secret not in dump and secret.encode().hex() not in dump


async def test_sealed_state_is_bound_to_its_row(client, alice, storage_app):
    """A ciphertext copied onto another version fails to open: 500 integrity-error."""
    tid = (await new_thread(client, alice))["id"]
    st = f"{T}/{tid}/state"
    await client.put(st, json={"data": {"v": 1}}, headers=alice.headers)
    await client.put(st, json={"data": {"v": 2}}, headers=alice.headers)
    async with storage_app.state.database.system() as conn:
        await conn.execute(text(
            "UPDATE thread_state_versions SET ciphertext = (SELECT ciphertext FROM "
            "thread_state_versions WHERE tenant_id = :t AND thread_id = :id AND version = 1) "
            "WHERE tenant_id = :t AND thread_id = :id AND version = 2"),
            {"t": alice.household_id, "id": tid})
    r = await client.get(st, headers=alice.headers)
    assert r.status_code == 500 and r.json()["type"].endswith("integrity-error")
    assert (await client.get(f"{st}/versions/1", headers=alice.headers)).json()["data"] == {
        "v": 1}
