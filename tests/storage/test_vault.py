"""Vault over HTTP: versions, check-and-set, soft delete / undelete / destroy, lists
without values, scoping to household and person, bad input, and automatic audit events."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.conftest import STORAGE_DB

pytestmark = pytest.mark.backends("postgres", "sqlite")


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


@pytest.mark.backends("postgres")  # reads PostgreSQL itself; see test_sqlite.py
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


@pytest.mark.backends("postgres")  # reads PostgreSQL itself; see test_sqlite.py
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


@pytest.mark.backends("postgres")  # reads PostgreSQL itself; see test_sqlite.py
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
