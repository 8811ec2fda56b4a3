"""Vault over HTTP: versions, check-and-set, soft delete / undelete / destroy, lists
without values, scoping to household and person, bad input, and automatic audit events."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from .conftest import STORAGE_DB
from .statements import statement_log

V = "/v1/vault/secrets"


def audit_rows(postgres, tenant: str) -> list[dict[str, Any]]:
    out = postgres.psql(
        "SELECT json_build_object('action', action, 'status', status, 'target', target, "
        "'actor', actor, 'person_id', person_id, 'payload', payload) FROM audit_events "
        f"WHERE tenant_id = '{tenant}' ORDER BY seq", STORAGE_DB)
    return [json.loads(line) for line in out.splitlines() if line]


def db_value(postgres, sql: str) -> str:
    return str(postgres.psql(sql, STORAGE_DB)).strip()


async def test_write_read_roundtrip_and_metadata(client, alice):
    r = await client.put(f"{V}/db/password", headers=alice.headers,
                         json={"value": "hunter2-é", "metadata": {"owner": "ops"}})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["name"] == "db/password" and body["version"] == 1
    assert "value" not in body and r.headers["etag"] == '"1"'
    r = await client.get(f"{V}/db/password", headers=alice.headers)
    assert r.status_code == 200
    assert r.json()["value"] == "hunter2-é" and r.json()["metadata"] == {"owner": "ops"}
    assert r.headers["cache-control"] == "no-store"
    meta = (await client.get(f"{V}/db/password/metadata", headers=alice.headers)).json()
    assert "value" not in meta and "hunter2" not in json.dumps(meta)
    assert [v["version"] for v in meta["versions"]] == [1]


async def test_versions_are_kept_and_pruned(client, alice, postgres):
    for i in range(1, 5):
        r = await client.put(f"{V}/rotating", headers=alice.headers,
                             json={"value": f"v{i}", "max_versions": 3})
        assert r.status_code == (201 if i == 1 else 200)
    assert (await client.get(f"{V}/rotating", headers=alice.headers)).json()["value"] == "v4"
    old = await client.get(f"{V}/rotating?version=2", headers=alice.headers)
    assert old.json()["value"] == "v2" and old.json()["version"] == 2
    assert (await client.get(f"{V}/rotating?version=1", headers=alice.headers)).status_code \
        == 404
    meta = (await client.get(f"{V}/rotating/metadata", headers=alice.headers)).json()
    assert [v["version"] for v in meta["versions"]] == [2, 3, 4]
    assert meta["max_versions"] == 3
    rows = db_value(postgres, "SELECT count(*) FROM vault_versions v JOIN vault_secrets s "
                              f"ON s.id = v.secret_id WHERE s.tenant_id = '{alice.household_id}'")
    assert rows == "3"
    # Lowering max_versions on a later write prunes down to the new limit.
    await client.put(f"{V}/rotating", headers=alice.headers, json={"value": "v5",
                                                                   "max_versions": 1})
    meta = (await client.get(f"{V}/rotating/metadata", headers=alice.headers)).json()
    assert [v["version"] for v in meta["versions"]] == [5]


async def test_max_versions_above_server_limit_is_400(client, alice, storage_app):
    limit = storage_app.state.services.vault.max_versions
    r = await client.put(f"{V}/x", headers=alice.headers,
                         json={"value": "a", "max_versions": limit + 1})
    assert r.status_code == 400 and "max_versions" in r.json()["detail"]


async def test_check_and_set(client, alice):
    assert (await client.put(f"{V}/cas", headers=alice.headers,
                             json={"value": "a", "cas": 0})).status_code == 201
    again = await client.put(f"{V}/cas", headers=alice.headers, json={"value": "b", "cas": 0})
    assert again.status_code == 412
    assert again.headers["content-type"].startswith("application/problem+json")
    assert (await client.put(f"{V}/cas", headers=alice.headers,
                             json={"value": "b", "cas": 1})).status_code == 200
    stale = await client.put(f"{V}/cas", headers=alice.headers, json={"value": "c", "cas": 1})
    assert stale.status_code == 412 and "cas" in stale.json()["detail"]
    # If-Match works too.
    assert (await client.put(f"{V}/cas", json={"value": "c"},
                             headers={**alice.headers, "If-Match": '"1"'})).status_code == 412
    assert (await client.put(f"{V}/cas", json={"value": "c"},
                             headers={**alice.headers, "If-Match": '"2"'})).status_code == 200
    assert (await client.get(f"{V}/cas", headers=alice.headers)).json()["value"] == "c"


async def test_concurrent_creates_have_one_winner(client, alice):
    results = await asyncio.gather(*[
        client.put(f"{V}/race", headers=alice.headers, json={"value": str(i), "cas": 0})
        for i in range(6)])
    assert sorted(r.status_code for r in results) == [201] + [412] * 5


async def test_soft_delete_undelete_and_write_after_delete(client, alice):
    await client.put(f"{V}/temp", headers=alice.headers, json={"value": "t1"})
    assert (await client.delete(f"{V}/temp", headers=alice.headers)).status_code == 204
    r = await client.get(f"{V}/temp", headers=alice.headers)
    assert r.status_code == 410 and "t1" not in r.text
    names = [i["name"] for i in (await client.get(V, headers=alice.headers)).json()["items"]]
    assert "temp" not in names
    listed = (await client.get(f"{V}?include_deleted=true", headers=alice.headers)).json()
    assert [i["name"] for i in listed["items"]] == ["temp"]
    assert listed["items"][0]["deleted_at"] is not None
    r = await client.post(f"{V}/temp/undelete", headers=alice.headers)
    assert r.status_code == 200 and r.json()["deleted_at"] is None
    assert (await client.get(f"{V}/temp", headers=alice.headers)).json()["value"] == "t1"
    # A write to a deleted secret restores it with a new version.
    await client.delete(f"{V}/temp", headers=alice.headers)
    await client.put(f"{V}/temp", headers=alice.headers, json={"value": "t2"})
    got = (await client.get(f"{V}/temp", headers=alice.headers)).json()
    assert got["value"] == "t2" and got["version"] == 2
    assert (await client.delete(f"{V}/never", headers=alice.headers)).status_code == 404
    assert (await client.post(f"{V}/never/undelete", headers=alice.headers)).status_code == 404


async def test_destroy_one_and_all_versions_is_unrecoverable(client, alice, postgres):
    for value in ("d1", "d2", "d3"):
        await client.put(f"{V}/burn", headers=alice.headers, json={"value": value})
    r = await client.post(f"{V}/burn/destroy", headers=alice.headers, json={"versions": [2]})
    assert r.status_code == 200 and r.json() == {"name": "burn", "destroyed": [2]}
    assert (await client.get(f"{V}/burn?version=2", headers=alice.headers)).status_code == 410
    assert (await client.get(f"{V}/burn", headers=alice.headers)).json()["value"] == "d3"
    nulls = db_value(postgres, "SELECT string_agg(v.version || ':' || (v.ciphertext IS NULL), ',' "
                               "ORDER BY v.version) FROM vault_versions v JOIN vault_secrets s "
                               f"ON s.id = v.secret_id WHERE s.tenant_id = '{alice.household_id}'")
    assert nulls == "1:false,2:true,3:false"
    missing = await client.post(f"{V}/burn/destroy", headers=alice.headers,
                                json={"versions": [99]})
    assert missing.status_code == 404 and "99" in missing.json()["detail"]
    r = await client.post(f"{V}/burn/destroy", headers=alice.headers, json={"versions": "all"})
    assert r.json()["destroyed"] == [1, 2, 3]
    assert (await client.get(f"{V}/burn", headers=alice.headers)).status_code == 410
    left = db_value(postgres, "SELECT count(*) FROM vault_versions v JOIN vault_secrets s "
                              f"ON s.id = v.secret_id WHERE s.tenant_id = '{alice.household_id}' "
                              "AND v.ciphertext IS NOT NULL")
    assert left == "0"
    meta = (await client.get(f"{V}/burn/metadata", headers=alice.headers)).json()
    assert all(v["destroyed"] for v in meta["versions"])


async def test_list_paginates_filters_and_never_returns_values(client, alice):
    for i in range(5):
        await client.put(f"{V}/app/k{i}", headers=alice.headers,
                         json={"value": f"SECRET-LIST-{i}", "metadata": {"i": i}})
    await client.put(f"{V}/other", headers=alice.headers, json={"value": "SECRET-LIST-x"})
    seen, cursor, pages = [], None, []
    while True:
        url = f"{V}?prefix=app/&limit=2" + (f"&cursor={cursor}" if cursor else "")
        r = await client.get(url, headers=alice.headers)
        assert r.status_code == 200
        pages.append(r.text)
        seen += [i["name"] for i in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if not cursor:
            break
    assert seen == [f"app/k{i}" for i in range(5)]
    assert all("SECRET-LIST" not in page and '"value"' not in page for page in pages)


async def test_other_household_cannot_read_guessed_names(client, alice, bob):
    await client.put(f"{V}/shared-name", headers=alice.headers, json={"value": "alice-only"})
    assert (await client.get(f"{V}/shared-name", headers=bob.headers)).status_code == 404
    assert (await client.get(f"{V}/shared-name/metadata",
                             headers=bob.headers)).status_code == 404
    assert (await client.delete(f"{V}/shared-name", headers=bob.headers)).status_code == 404
    assert (await client.post(f"{V}/shared-name/destroy", headers=bob.headers,
                              json={"versions": "all"})).status_code == 404
    assert (await client.get(V, headers=bob.headers)).json()["items"] == []
    # Bob's write of the same name is his own secret; Alice's is untouched.
    assert (await client.put(f"{V}/shared-name", headers=bob.headers,
                             json={"value": "bob", "cas": 0})).status_code == 201
    assert (await client.get(f"{V}/shared-name",
                             headers=alice.headers)).json()["value"] == "alice-only"


async def test_another_person_in_the_household_cannot_read(client, alice, make_caller):
    carol = make_caller(household_id=alice.household_id)
    await client.put(f"{V}/personal", headers=alice.headers, json={"value": "alice-personal"})
    assert (await client.get(f"{V}/personal", headers=carol.headers)).status_code == 404
    assert (await client.get(V, headers=carol.headers)).json()["items"] == []


@pytest.mark.parametrize(("method", "path", "body"), [
    ("put", f"{V}/bad%20name", {"value": "x"}),
    ("put", f"{V}/a//b", {"value": "x"}),
    ("put", f"{V}/a/metadata", {"value": "x"}),
    ("put", f"{V}/{'n' * 257}", {"value": "x"}),
    ("put", f"{V}/ok", {"value": 5}),
    ("put", f"{V}/ok", {"value": "x", "cas": -1}),
    ("put", f"{V}/ok", {"value": "x", "max_versions": 0}),
    ("put", f"{V}/ok", {"value": "x", "metadata": [1]}),
    ("put", f"{V}/ok", None),
    ("put", f"{V}/ok", {"value": "x" * (64 * 1024 + 1)}),
    ("put", f"{V}/ok", {"value": "x", "metadata": {"m": "y" * 20000}}),
    ("get", f"{V}/ok?version=0", None),
    ("get", f"{V}?limit=0", None),
    ("get", f"{V}?cursor=%%%", None),
    ("post", f"{V}/ok/destroy", {"versions": []}),
    ("post", f"{V}/ok/destroy", {"versions": "some"}),
])
async def test_bad_input_is_4xx_with_reason(client, alice, method, path, body):
    r = await client.request(method.upper(), path, json=body, headers=alice.headers)
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["detail"]


async def test_every_operation_is_audited_without_the_value(client, alice, postgres):
    plain = "AUDIT-SECRET-VALUE-42"
    await client.put(f"{V}/audited", headers=alice.headers, json={"value": plain})
    await client.get(f"{V}/audited", headers=alice.headers)
    await client.get(f"{V}/audited/metadata", headers=alice.headers)
    await client.get(f"{V}/missing", headers=alice.headers)
    await client.delete(f"{V}/audited", headers=alice.headers)
    await client.post(f"{V}/audited/undelete", headers=alice.headers)
    await client.post(f"{V}/audited/destroy", headers=alice.headers, json={"versions": [1]})
    await client.get(V, headers=alice.headers)
    rows = audit_rows(postgres, alice.household_id)
    assert [(r["action"], r["status"]) for r in rows] == [
        ("vault.write", "ok"), ("vault.read", "ok"), ("vault.metadata", "ok"),
        ("vault.read", "not-found"), ("vault.delete", "ok"), ("vault.undelete", "ok"),
        ("vault.destroy", "ok"), ("vault.list", "ok")]
    assert rows[0]["target"] == "vault:audited" and rows[0]["payload"] == {"version": 1}
    assert rows[0]["actor"] == alice.person_id and rows[0]["person_id"] == alice.person_id
    assert rows[6]["payload"] == {"versions": [1]}
    assert plain not in json.dumps(rows)
    # The audit API shows the same events to Alice.
    r = await client.get("/v1/audit?action=vault.read", headers=alice.headers)
    assert r.status_code == 200, r.text
    assert len(r.json()["items"]) == 2
    # Written in the vault's own statements (the write's in the same one as the version),
    # the events still form one valid chain.
    verdict = (await client.post("/v1/audit/verify", headers=alice.headers)).json()
    assert verdict["valid"] is True and verdict["checked"] == len(rows)


async def test_missing_token_is_401(client):
    assert (await client.get(f"{V}/x")).status_code == 401


async def test_metadata_with_big_integers_round_trips(client, alice):
    meta = {"serial": 123456789012345678901234567890}
    r = await client.put("/v1/vault/secrets/big-meta", headers=alice.headers,
                         json={"value": "v", "metadata": meta})
    assert r.status_code == 201, r.text
    got = await client.get("/v1/vault/secrets/big-meta/metadata", headers=alice.headers)
    assert got.json()["metadata"] == meta


async def audit_events(client, caller, action: str) -> list[dict[str, Any]]:
    r = await client.get(f"/v1/audit?action={action}&order=asc&limit=1000",
                         headers=caller.headers)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def test_concurrent_writers_all_land_with_distinct_versions(client, alice):
    writes = await asyncio.gather(*[
        client.put(f"{V}/busy", headers=alice.headers,
                   json={"value": f"w{i}", "max_versions": 5}) for i in range(20)])
    assert all(r.is_success for r in writes), [r.text for r in writes if not r.is_success]
    assert sorted(r.status_code for r in writes) == [200] * 19 + [201]
    assert sorted(r.json()["version"] for r in writes) == list(range(1, 21))
    events = await audit_events(client, alice, "vault.write")
    assert sorted(e["payload"]["version"] for e in events) == list(range(1, 21))
    meta = (await client.get(f"{V}/busy/metadata", headers=alice.headers)).json()
    assert meta["version"] == 20 and meta["max_versions"] == 5
    assert [v["version"] for v in meta["versions"]] == [16, 17, 18, 19, 20]
    # The newest version holds the value of the write that answered version 20.
    last = next(r for r in writes if r.json()["version"] == 20)
    value = (await client.get(f"{V}/busy", headers=alice.headers)).json()["value"]
    assert value == f"w{writes.index(last)}"
    verdict = (await client.post("/v1/audit/verify", headers=alice.headers)).json()
    assert verdict["valid"] is True


async def test_concurrent_creators_without_cas_one_creates(client, alice):
    writes = await asyncio.gather(*[
        client.put(f"{V}/fresh", headers=alice.headers,
                   json={"value": f"c{i}", "metadata": {"by": i}}) for i in range(6)])
    assert sorted(r.status_code for r in writes) == [200] * 5 + [201]
    assert sorted(r.json()["version"] for r in writes) == list(range(1, 7))
    creator = next(i for i, r in enumerate(writes) if r.status_code == 201)
    assert writes[creator].json()["version"] == 1
    # Every write gave metadata, so the last one's stands (metadata set when given).
    last = next(i for i, r in enumerate(writes) if r.json()["version"] == 6)
    meta = (await client.get(f"{V}/fresh/metadata", headers=alice.headers)).json()
    assert meta["metadata"] == {"by": last}


async def test_metadata_and_max_versions_kept_unless_given(client, alice):
    await client.put(f"{V}/keep", headers=alice.headers,
                     json={"value": "1", "metadata": {"a": 1}, "max_versions": 2})
    r = await client.put(f"{V}/keep", headers=alice.headers, json={"value": "2"})
    assert r.status_code == 200
    assert r.json()["metadata"] == {"a": 1} and r.json()["max_versions"] == 2
    r = await client.put(f"{V}/keep", headers=alice.headers,
                         json={"value": "3", "metadata": {}})
    assert r.json()["metadata"] == {} and r.json()["version"] == 3
    r = await client.put(f"{V}/plain", headers=alice.headers, json={"value": "x"})
    assert r.status_code == 201 and r.json()["metadata"] == {}


async def test_a_write_that_loses_the_race_retries_or_fails_its_cas(
        client, alice, storage_app, monkeypatch):
    vault = storage_app.state.services.vault
    encrypt = vault.keys.encrypt
    raced: list[int] = []
    target = ["contested"]

    async def encrypt_after_a_rival_write(conn, tenant, kind, record_id, plain, version):
        # Between this writer's read and its write, another request writes the secret.
        if not raced:
            raced.append(version)
            rival = await client.put(f"{V}/{target[0]}", headers=alice.headers,
                                     json={"value": "rival"})
            assert rival.is_success, rival.text
        return await encrypt(conn, tenant, kind, record_id, plain, version)

    await client.put(f"{V}/contested", headers=alice.headers, json={"value": "v1"})
    monkeypatch.setattr(vault.keys, "encrypt", encrypt_after_a_rival_write)
    lost = await client.put(f"{V}/contested", headers=alice.headers,
                            json={"value": "mine", "cas": 1})
    assert lost.status_code == 412 and "another write" in lost.json()["detail"]
    assert raced == [2]
    raced.clear()
    retried = await client.put(f"{V}/contested", headers=alice.headers,
                               json={"value": "mine"})
    assert retried.status_code == 200 and retried.json()["version"] == 4
    assert (await client.get(f"{V}/contested", headers=alice.headers)).json()["value"] \
        == "mine"
    # A new secret whose creation a rival beats: this write becomes version 2.
    raced.clear()
    target[0] = "contested-new"
    created = await client.put(f"{V}/contested-new", headers=alice.headers,
                               json={"value": "mine"})
    assert created.status_code == 200 and created.json()["version"] == 2
    events = await audit_events(client, alice, "vault.write")
    assert [(e["target"], e["payload"]["version"]) for e in events] == [
        ("vault:contested", 1), ("vault:contested", 2), ("vault:contested", 3),
        ("vault:contested", 4), ("vault:contested-new", 1), ("vault:contested-new", 2)]


async def test_each_read_appends_one_event_with_its_outcome(client, alice):
    for value in ("r1", "r2", "r3"):
        await client.put(f"{V}/outcomes", headers=alice.headers, json={"value": value})
    await client.post(f"{V}/outcomes/destroy", headers=alice.headers, json={"versions": [2]})
    await client.put(f"{V}/deleted", headers=alice.headers, json={"value": "d"})
    await client.delete(f"{V}/deleted", headers=alice.headers)
    reads = [(f"{V}/outcomes", 200, "ok", 3), (f"{V}/outcomes?version=1", 200, "ok", 1),
             (f"{V}/outcomes?version=2", 410, "gone", 2),
             (f"{V}/outcomes?version=9", 404, "not-found", 9),
             (f"{V}/nothing", 404, "not-found", 0),
             (f"{V}/nothing?version=4", 404, "not-found", 4),
             (f"{V}/deleted", 410, "gone", 1)]
    for url, status, _, _ in reads:
        r = await client.get(url, headers=alice.headers)
        assert r.status_code == status, (url, r.text)
        assert '"value"' not in r.text or status == 200
    events = await audit_events(client, alice, "vault.read")
    assert [(e["status"], e["payload"], e["target"]) for e in events] == [
        (s, {"version": v}, "vault:" + url.removeprefix(f"{V}/").split("?")[0])
        for url, _, s, v in reads]
    assert all(e["actor"] == alice.person_id and e["person_id"] == alice.person_id
               for e in events)
    verdict = (await client.post("/v1/audit/verify", headers=alice.headers)).json()
    assert verdict["valid"] is True


async def test_integrity_failure_is_audited_after_the_read(client, alice, postgres):
    await client.put(f"{V}/corrupt", headers=alice.headers, json={"value": "CORRUPT-PLAIN"})
    postgres.psql("UPDATE vault_versions SET ciphertext = set_byte(ciphertext, 20, "
                  "get_byte(ciphertext, 20) # 255) WHERE secret_id = (SELECT id FROM "
                  f"vault_secrets WHERE tenant_id = '{alice.household_id}' "
                  "AND name = 'corrupt')", STORAGE_DB)
    r = await client.get(f"{V}/corrupt", headers=alice.headers)
    assert r.status_code == 500 and r.json()["type"].endswith("/integrity-error")
    assert "CORRUPT-PLAIN" not in r.text
    events = await audit_events(client, alice, "vault.read")
    assert [(e["status"], e["payload"]) for e in events] == [
        ("ok", {"version": 1}), ("integrity-error", {"version": 1})]


async def test_a_write_is_two_statements_and_a_read_one(client, alice, storage_app,
                                                         monkeypatch):
    # The first write creates the tenant's data key, the second caches it (keys.service).
    for value in ("warm", "cached"):
        await client.put(f"{V}/counted", headers=alice.headers, json={"value": value})
    with statement_log(storage_app.state.services.vault.db.pool, monkeypatch) as log:
        # A warm write (the tenant's data key is cached): read, then write + audit.
        write = await log.of(client.put(f"{V}/counted", headers=alice.headers,
                                        json={"value": "v2"}))
        assert len(write) == 2, [q[:60] for q in write]
        assert "audit_append" in write[1] and "UPDATE vault_secrets" in write[1]
        create = await log.of(client.put(f"{V}/counted-new", headers=alice.headers,
                                         json={"value": "v1"}))
        assert len(create) == 2 and "INSERT INTO vault_secrets" in create[1], create
        read = await log.of(client.get(f"{V}/counted", headers=alice.headers))
        assert len(read) == 1 and "audit_append" in read[0], read
