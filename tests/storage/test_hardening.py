"""Regression tests for what attacking the running service found (storage hardening §3,
§4): input that answered 500 or poisoned its neighbours, and the smaller leaks."""

from __future__ import annotations

import asyncio
import json
import uuid

import asyncpg
import pytest

from unison_devstack.postgres import RUNTIME_ROLE
from unison_shared.database import STORED_JSON_MAX_DEPTH
from unison_shared.testing import role_url

from .test_objects import upload


def nested(depth: int) -> str:
    """A JSON array nested `depth` levels deep, as text (json.dumps would recurse)."""
    return "[" * depth + "1" + "]" * depth


def body_with(field: str, raw_value: str, **other: object) -> bytes:
    pairs = [f'"{field}": {raw_value}'] + [f'"{k}": {json.dumps(v)}' for k, v in other.items()]
    return ("{" + ", ".join(pairs) + "}").encode()


JSON = {"content-type": "application/json"}


@pytest.mark.parametrize("depth", [65, 300, 989, 5000])
async def test_deep_json_is_refused_before_anything_is_stored(client, alice, depth):
    h = {**alice.headers, **JSON}
    r = await client.put("/v1/kv/deep/k", content=body_with("value", nested(depth)),
                         headers=h)
    assert r.status_code == 422 and "nested deeper than 64" in r.json()["detail"]
    assert (await client.get("/v1/kv/deep/k", headers=alice.headers)).status_code == 404
    r = await client.put("/v1/kv/vault/k", content=body_with("value", nested(depth)),
                         headers=h)
    assert r.status_code == 422
    r = await client.post("/v1/audit", content=body_with("payload", "{\"a\": "
                          + nested(depth) + "}", action="deep"), headers=h)
    assert r.status_code == 422
    events = (await client.get("/v1/audit", headers=alice.headers)).json()
    assert events["items"] == []
    legacy = await client.put("/kv/deep/k", content=body_with("value", nested(depth)),
                              headers=h)
    assert legacy.status_code == 400 and legacy.json()["ok"] is False
    vault = await client.post("/vault", content=body_with(
        "metadata", "{\"m\": " + nested(depth) + "}", key_id="k", cipher_text="s"), headers=h)
    assert vault.status_code == 400
    assert (await client.get("/vault/k", headers=alice.headers)).json()["ok"] is False


async def test_json_at_the_limit_is_stored_and_read_back(client, alice):
    value = json.loads(nested(63))  # 63 arrays inside the body's object: 64 levels
    r = await client.put("/v1/kv/deep/ok", json={"value": value}, headers=alice.headers)
    assert r.status_code == 201, r.text
    got = await client.get("/v1/kv/deep/ok", headers=alice.headers)
    assert got.json()["value"] == value


async def test_brackets_inside_strings_do_not_count(client, alice):
    text = "[{" * 500 + '\\"]' * 3
    r = await client.put("/v1/kv/deep/str", json={"value": text}, headers=alice.headers)
    assert r.status_code == 201
    assert (await client.get("/v1/kv/deep/str", headers=alice.headers)).json()["value"] == text


async def test_a_person_id_hidden_deep_in_a_body_is_still_checked(client, alice):
    inner: object = {"person_id": "someone-else"}
    for _ in range(40):  # deeper than the old scan's 32 levels, within the body limit
        inner = {"a": inner}
    r = await client.put("/v1/kv/ns/hidden", json={"value": inner}, headers=alice.headers)
    assert r.status_code == 403


async def test_a_stored_record_too_deep_to_serve_does_not_fail_reads(client, alice,
                                                                     storage_db_url):
    """Databases written before the limit may hold such rows: reading one, and listing
    its namespace, answer with a marker instead of a 500."""
    for key, value in (("fine", '{"x": 1}'), ("poison", nested(STORED_JSON_MAX_DEPTH + 100))):
        conn = await asyncpg.connect(role_url(storage_db_url, RUNTIME_ROLE).replace(
            "postgresql+asyncpg://", "postgresql://"))
        try:
            await conn.execute("SELECT set_config('app.tenant_id', $1, false)",
                               alice.household_id)
            await conn.execute(
                "INSERT INTO kv_records (tenant_id, person_id, namespace, key, value) "
                "VALUES ($1, $2, 'old', $3, $4::jsonb)", alice.household_id,
                alice.person_id, key, value)
        finally:
            await conn.close()
    got = await client.get("/v1/kv/old/poison", headers=alice.headers)
    assert got.status_code == 200 and "unreadable" in got.json()["value"]
    page = await client.get("/v1/kv/old", headers=alice.headers)
    assert page.status_code == 200
    values = {i["key"]: i["value"] for i in page.json()["items"]}
    assert values["fine"] == {"x": 1} and "unreadable" in values["poison"]
    legacy = await client.get("/kv/old/poison", headers=alice.headers)
    assert legacy.status_code == 200 and "unreadable" in legacy.json()["value"]


async def test_a_lone_surrogate_in_a_vault_value_is_422_naming_the_field(client, alice):
    h = {**alice.headers, **JSON}
    r = await client.put("/v1/vault/secrets/s", content=b'{"value": "a\\ud800b"}', headers=h)
    assert r.status_code == 422 and r.json()["detail"].startswith("value:")
    assert (await client.get("/v1/vault/secrets/s", headers=alice.headers)).status_code == 404


async def test_absurd_ranges_and_foreign_if_range_get_the_whole_payload(client, alice):
    data = b"0123456789" * 10
    oid = (await upload(client, alice, data)).json()["id"]
    base = f"/v1/objects/{oid}"
    for rng in ("bytes=" + "9" * 5000 + "-", "bytes=0-" + "1" * 4400, "bytes=-" + "7" * 4400):
        for method in (client.get, client.head):
            r = await method(base, headers={**alice.headers, "Range": rng})
            assert r.status_code == 200, rng[:20]
    etag = (await client.get(f"{base}/metadata", headers=alice.headers)).headers["etag"]
    for validator in ("not-a-validator", '"0000"', "Wed, 21 Oct 2015 07:28:00 GMT"):
        r = await client.get(base, headers={**alice.headers, "Range": "bytes=0-3",
                                            "If-Range": validator})
        assert r.status_code == 200 and r.content == data
    r = await client.get(base, headers={**alice.headers, "Range": "bytes=0-3",
                                        "If-Range": etag})
    assert r.status_code == 206 and r.content == b"0123"
    presign = (await client.post(f"{base}/presign", headers=alice.headers, json={})).json()
    url = presign["url"].split("://", 1)[1].split("/", 1)[1]
    r = await client.get("/" + url, headers={"Range": "bytes=" + "9" * 5000 + "-"})
    assert r.status_code == 200 and r.content == data


@pytest.mark.parametrize("namespace", ["VAULT", "Vault", "vAuLt"])
async def test_every_spelling_of_a_sensitive_namespace_is_encrypted(client, alice,
                                                                    storage_app, namespace):
    secret = f"tok-{uuid.uuid4().hex}"
    r = await client.put(f"/v1/kv/{namespace}/pay", json={"value": {"token": secret}},
                         headers=alice.headers)
    assert r.status_code == 201
    async with storage_app.state.database.statement(_ctx(alice)) as conn:
        row = await conn.fetchrow("SELECT value, value_enc FROM kv_records "
                                  "WHERE namespace = $1 AND key = 'pay'", namespace)
    assert row["value"] is None and row["value_enc"] is not None
    assert secret.encode() not in bytes(row["value_enc"])
    got = await client.get(f"/v1/kv/{namespace}/pay", headers=alice.headers)
    assert got.json()["value"] == {"token": secret}


def _ctx(caller):
    from unison_shared.auth import RequestContext
    from unison_shared.auth.principal import Principal

    principal = Principal(sub=caller.person_id, person_id=caller.person_id,
                          household_id=caller.household_id)
    return RequestContext(principal, caller.household_id, caller.person_id)


@pytest.mark.parametrize("claims", [{"household_id": ["hhA"]}, {"household_id": 7},
                                    {"person_id": ["p1"], "household_id": "h"},
                                    {"person_id": {"id": "p"}, "household_id": "h"}])
async def test_identity_claims_of_the_wrong_type_are_403(client, alice, claims):
    from unison_devstack.tokens import mint_token
    from unison_shared.testing import AUDIENCES, TEST_SECRET

    claims = {"person_id": "p-typed", **claims}
    token = mint_token(TEST_SECRET, audience=AUDIENCES, sub="p-typed", **claims)
    r = await client.get("/v1/whoami", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403 and "must be a string" in r.json()["detail"]
    # A well-formed token still works.
    assert (await client.get("/v1/whoami", headers=alice.headers)).status_code == 200


async def test_concurrent_deep_writes_never_reach_the_database(client, alice):
    h = {**alice.headers, **JSON}
    answers = await asyncio.gather(*[
        client.put(f"/v1/kv/deep/c{i}", content=body_with("value", nested(100)), headers=h)
        for i in range(8)])
    assert {a.status_code for a in answers} == {422}
    page = await client.get("/v1/kv/deep", headers=alice.headers)
    assert page.json()["items"] == []


@pytest.fixture(scope="module")
def impatient_storage(storage_env, state_dir):
    """A live storage process that gives a stalled request body one second."""
    from unison_devstack.procs import stop_pid

    from .conftest import start_storage_process

    proc, base = start_storage_process({**storage_env,
                                        "UNISON_REQUEST_BODY_TIMEOUT_SECONDS": "1"},
                                       state_dir / "impatient-storage.log")
    yield base
    stop_pid(proc.pid)


def _stalled_request(base: str, head: str, sent: bytes) -> tuple[bytes, float]:
    """Send headers promising more body than `sent`, then wait for the answer."""
    import socket
    import time

    host, port = base.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head.encode() + sent)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer, time.monotonic() - started


@pytest.mark.parametrize(("method", "path", "ctype"), [
    ("POST", "/v1/objects", "application/octet-stream"),
    ("PUT", "/v1/kv/slow/k", "application/json"),
    ("PUT", "/kv/slow/k", "application/json"),
])
async def test_a_body_that_stops_arriving_is_408(impatient_storage, alice, method, path,
                                                 ctype):
    head = (f"{method} {path} HTTP/1.1\r\nHost: storage\r\n"
            f"Authorization: Bearer {alice.token}\r\nContent-Type: {ctype}\r\n"
            "Content-Length: 100\r\n\r\n")
    answer, took = await asyncio.to_thread(_stalled_request, impatient_storage, head,
                                           b'{"value": 1')
    status_line = answer.split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"connection: close" in answer.lower()
    assert took < 10


async def test_content_length_is_not_a_documented_upload_parameter(client):
    spec = (await client.get("/openapi.json")).json()
    params = spec["paths"]["/v1/objects"]["post"].get("parameters", [])
    names = {p["name"].lower() for p in params}
    assert "content-length" not in names and "x-content-sha256" in names


async def test_memory_ids_do_not_count_other_tenants_writes(client, alice, bob):
    async def write(caller, sid: str) -> int:
        r = await client.post(f"/v1/memory/sessions/{sid}/entries",
                              json={"payload": {"x": 1}}, headers=caller.headers)
        assert r.status_code == 201, r.text
        return int(r.json()["id"])

    first = await write(alice, "s-a")
    for i in range(7):
        await write(bob, f"s-b{i}")
    second = await write(alice, "s-a")
    assert second - first == 1  # bob's seven writes left no trace in alice's ids
    latest = (await client.get("/v1/memory/sessions/s-a/entries/latest",
                               headers=alice.headers)).json()
    assert latest["id"] == second
