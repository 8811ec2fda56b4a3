"""Person erasure and export on the context service: two persons of one household and
one of another, written through the legacy and /v1 routes; one erased by an operator;
then every column of every table is scanned as the superuser for the erased person's id
and markers, the others are still served, and ciphertext restored from a "backup" no
longer opens (the data keys are gone). The export gives back what was written, secrets
only to the person's own token."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import defaultdict
from datetime import datetime
from typing import Any

import orjson

from unison_devstack.tokens import mint_token
from unison_shared.testing import AUDIENCES, TEST_SECRET, operator_headers

SCANNED = ("text", "bytea", "jsonb", "json", "character varying", "ARRAY")
DOMAINS = {"profile", "profile_history", "credentials", "dashboard",
           "conversation_sessions", "conversation_messages", "kv"}


async def hits(raw_db: Any, needle: str) -> list[str]:
    """Every column (all tables, all rows, read as the superuser) holding `needle`."""
    found = []
    columns = await raw_db.fetch(
        "SELECT c.table_schema, c.table_name, c.column_name, c.data_type "
        "FROM information_schema.columns c JOIN information_schema.tables t "
        "ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
        "WHERE t.table_type = 'BASE TABLE' "
        "AND c.table_schema NOT IN ('pg_catalog', 'information_schema') "
        "AND c.data_type = ANY($1::text[])", list(SCANNED))
    assert len(columns) > 15  # the scan sees the service's tables
    for col in columns:
        schema, table, column = col["table_schema"], col["table_name"], col["column_name"]
        if col["data_type"] == "bytea":
            predicate, arg = f'position($1::bytea in "{column}") > 0', needle.encode()
        else:
            predicate, arg = f'strpos("{column}"::text, $1) > 0', needle
        if await raw_db.fetchval(
                f'SELECT count(*) FROM "{schema}"."{table}" WHERE {predicate}', arg):
            found.append(f"{table}.{column}")
    return found


def service_headers(household: str, scopes: list[str]) -> dict[str, str]:
    token = mint_token(TEST_SECRET, person_id=None, household_id=household,
                       sub="service-orchestrator", type="service", roles=["service"],
                       audience=AUDIENCES, scopes=scopes)
    return {"Authorization": f"Bearer {token}"}


def ok(resp: Any, status: int = 200) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json()


async def populate(client: Any, who: Any) -> dict[str, Any]:
    """Every domain of the person, through the legacy and /v1 routes; what was written."""
    # Letters only: a run of digits could pass for a card number and be refused.
    mark = "mk" + uuid.uuid4().hex.translate(str.maketrans("0123456789", "ghijklmnop"))
    pid, h = who.person_id, who.headers
    first = {"name": f"name-{mark}", "pin": "4321", "locale": "en",
             "payments": {"instruments": [{
                 "instrument_id": "card1", "provider": "stripe", "brand": "visa",
                 "last4": "4242", "vault_key": f"payment:{pid}:card1",
                 "display_name": f"card-{mark}"}]}}
    assert ok(await client.post(f"/profile/{pid}", headers=h, json={"profile": first}))["ok"]
    ok(await client.patch(f"/v1/profiles/{pid}", headers=h,
                          json={"language": "fr", "note": f"note-{mark}"}))
    dashboard = {"cards": [{"title": f"card-{mark}"}], "preferences": {"theme": "dark"}}
    assert ok(await client.post(f"/dashboard/{pid}", headers=h,
                                json={"dashboard": dashboard}))["ok"]
    legacy_messages = [{"role": "user", "content": f"hello-{mark}"},
                       {"role": "assistant", "content": f"hi-{mark}"}]
    assert ok(await client.post(f"/conversation/{pid}/legacy-{mark}", headers=h, json={
        "messages": legacy_messages, "response": {"text": f"resp-{mark}"},
        "summary": f"summary-{mark}"}))["ok"]
    v1_messages = [{"role": "user", "content": f"v1-{mark}", "metadata": {"m": mark}}]
    ok(await client.post(f"/v1/conversations/{pid}/sessions/v1-{mark}/messages", headers=h,
                         json={"messages": v1_messages}), 201)
    kv = {f"{pid}:profile:last_interaction": {"at": f"kv-{mark}"},
          f"workflow:{mark}": {"steps": [f"step-{mark}"]}}
    assert ok(await client.post("/kv/put", headers=h, json={
        "person_id": pid, "tier": "B",
        "items": {f"{pid}:profile:last_interaction": kv[f"{pid}:profile:last_interaction"]}}
    ))["ok"]
    assert ok(await client.post("/kv/set", headers=h, json={
        "key": f"workflow:{mark}", "value": kv[f"workflow:{mark}"]}))["ok"]
    # Reads: the person's data key is cached in the process.
    profile = ok(await client.get(f"/v1/profiles/{pid}", headers=h))["profile"]
    return {"mark": mark, "profile": profile, "dashboard": dashboard, "kv": kv,
            "sessions": {f"legacy-{mark}": legacy_messages,
                         f"v1-{mark}": [dict(m) for m in v1_messages]}}


async def still_served(client: Any, who: Any, written: dict[str, Any]) -> None:
    pid, h = who.person_id, who.headers
    assert ok(await client.get(f"/v1/profiles/{pid}", headers=h))["profile"] == \
        written["profile"]
    assert ok(await client.get(f"/dashboard/{pid}", headers=h))["dashboard"] == \
        written["dashboard"]
    sid = f"legacy-{written['mark']}"
    assert ok(await client.get(f"/conversation/{pid}/{sid}", headers=h))["messages"] == \
        written["sessions"][sid]
    values = ok(await client.post("/kv/get", headers=h, json={"keys": list(written["kv"])}))
    assert values["values"] == written["kv"]


async def test_erasure_removes_everything_of_the_person_only(client, make_caller, raw_db):
    alice = make_caller()
    sister = make_caller(household_id=alice.household_id)
    other = make_caller()
    written = {c.person_id: await populate(client, c) for c in (alice, sister, other)}
    pid, mark = alice.person_id, written[alice.person_id]["mark"]
    backup = await raw_db.fetchrow("SELECT * FROM profiles WHERE person_id = $1", pid)
    assert await hits(raw_db, pid)  # the scan finds the person before the erasure

    # Refused: the person's own token, a sibling's, a service token without the admin
    # scope (an operator of another household: the next test).
    for headers in (alice.headers, sister.headers,
                    service_headers(alice.household_id, ["persons:act"])):
        resp = await client.post(f"/v1/admin/persons/{pid}/erasure", headers=headers)
        assert resp.status_code == 403, resp.text
    assert ok(await client.get(f"/v1/profiles/{pid}", headers=alice.headers))

    resp = await client.post(f"/v1/admin/persons/{pid}/erasure",
                             headers=operator_headers(alice.household_id))
    receipt = ok(resp)
    assert receipt["service"] == "context"
    assert (receipt["tenant_id"], receipt["person_id"]) == (alice.household_id, pid)
    assert receipt["removed"] == {
        "profile": 1, "profile_history": 2, "credentials": 1, "dashboard": 1,
        "conversation_sessions": 2, "conversation_messages": 3, "kv": 2}
    assert receipt["keys_destroyed"] == 1
    assert receipt["caches_purged"] >= 1  # the key this process had unwrapped
    assert datetime.fromisoformat(receipt["completed_at"]).utcoffset() is not None

    for needle in (pid, mark):
        assert await hits(raw_db, needle) == [], needle
    for survivor in (sister, other):
        assert await hits(raw_db, written[survivor.person_id]["mark"])  # session ids
        assert await hits(raw_db, survivor.person_id)
        await still_served(client, survivor, written[survivor.person_id])
    assert ok(await client.get(f"/profile/{pid}", headers=alice.headers))["profile"] is None
    assert ok(await client.get(f"/conversation/{pid}/legacy-{mark}",
                               headers=alice.headers)) == {"messages": []}

    again = ok(await client.post(f"/v1/admin/persons/{pid}/erasure",
                                 headers=operator_headers(alice.household_id)))
    assert set(again["removed"].values()) == {0}
    assert (again["keys_destroyed"], again["caches_purged"]) == (0, 0)

    # Crypto-shredding: the profile's ciphertext put back from a "backup" does not open.
    await raw_db.execute(
        "INSERT INTO profiles (tenant_id, person_id, version, ciphertext, dek_version, "
        "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)", *backup.values())
    try:
        resp = await client.get(f"/v1/profiles/{pid}", headers=alice.headers)
        # 410 (the person was erased), never the content.
        assert resp.status_code == 410 and "name-" not in resp.text, resp.text
    finally:
        await raw_db.execute("DELETE FROM profiles WHERE person_id = $1", pid)


async def test_erasure_of_a_person_in_another_household_touches_nothing(client,
                                                                        make_caller):
    alice, stranger = make_caller(), make_caller()
    written = await populate(client, alice)
    receipt = ok(await client.post(f"/v1/admin/persons/{alice.person_id}/erasure",
                                   headers=operator_headers(stranger.household_id)))
    assert receipt["tenant_id"] == stranger.household_id
    assert set(receipt["removed"].values()) == {0} and receipt["keys_destroyed"] == 0
    await still_served(client, alice, written)


async def export_lines(client: Any, pid: str, headers: dict[str, str],
                       secrets: bool) -> dict[str, list[dict[str, Any]]]:
    resp = await client.get(f"/v1/admin/persons/{pid}/export", headers=headers,
                            params={"include_secrets": str(secrets).lower()})
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/x-ndjson")
    by_domain: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for raw in resp.content.splitlines():
        line = json.loads(raw)  # exact integers of any size
        assert set(line) <= {"domain", "record", "redacted"}
        by_domain[line["domain"]].append(line)
    return by_domain


async def test_export_gives_every_domain_and_secrets_only_to_the_person(client,
                                                                        make_caller):
    alice = make_caller()
    sister = make_caller(household_id=alice.household_id)
    written = await populate(client, alice)
    await populate(client, sister)
    pid, mark = alice.person_id, written["mark"]
    operator = operator_headers(alice.household_id)

    got = await export_lines(client, pid, operator, secrets=False)
    assert set(got) == DOMAINS
    (profile,) = got["profile"]
    assert profile["redacted"] is True
    instrument = profile["record"]["profile"]["payments"]["instruments"][0]
    assert instrument["last4"] == "***" and instrument["vault_key"] == "***"
    assert instrument["display_name"] == f"card-{mark}"
    assert profile["record"]["profile"]["note"] == f"note-{mark}"
    (cred,) = got["credentials"]
    assert cred["redacted"] is True and cred["record"].keys() == {"kind", "updated_at"}
    assert [h["record"]["version"] for h in got["profile_history"]] == [2, 1]
    assert got["dashboard"][0]["record"]["dashboard"] == written["dashboard"]
    assert {line["record"]["key"]: line["record"]["value"] for line in got["kv"]} == \
        written["kv"]
    messages: dict[str, list[Any]] = defaultdict(list)
    for line in got["conversation_messages"]:
        messages[line["record"]["session_id"]].append(line["record"]["body"])
    assert dict(messages) == written["sessions"]
    assert {s["record"]["session_id"] for s in got["conversation_sessions"]} == \
        set(written["sessions"])
    assert f"resp-{mark}" in orjson.dumps(got["conversation_sessions"]).decode()
    assert sister.person_id not in orjson.dumps(got).decode()  # only the person's rows

    mine = await export_lines(client, pid, alice.headers, secrets=True)
    (full,) = mine["profile"]
    assert "redacted" not in full and full["record"]["profile"] == written["profile"]
    assert full["record"]["profile"]["payments"]["instruments"][0]["last4"] == "4242"
    (pin,) = mine["credentials"]
    assert pin["record"]["kind"] == "pin" and pin["record"]["hash"].startswith("$argon2")
    assert "4321" not in orjson.dumps(mine).decode()  # a hash, never the PIN
    assert set(mine) == DOMAINS
    redacted = await export_lines(client, pid, alice.headers, secrets=False)
    assert redacted["profile"][0]["redacted"] is True

    refused = await client.get(f"/v1/admin/persons/{pid}/export", headers=operator,
                               params={"include_secrets": "true"})
    assert refused.status_code == 403 and "own token" in refused.text
    for headers in (sister.headers, service_headers(alice.household_id, ["persons:act"]),
                    service_headers(alice.household_id, [])):
        resp = await client.get(f"/v1/admin/persons/{pid}/export", headers=headers)
        assert resp.status_code == 403, resp.text


async def test_export_after_erasure_is_empty(client, make_caller):
    alice = make_caller()
    await populate(client, alice)
    operator = operator_headers(alice.household_id)
    ok(await client.post(f"/v1/admin/persons/{alice.person_id}/erasure", headers=operator))
    assert await export_lines(client, alice.person_id, operator, secrets=False) == {}


async def test_erasure_evicts_the_persons_keys_on_every_replica(client, context_env,
                                                                make_caller):
    """Replica B had the person's key unwrapped; the erasure ran on A. B must drop the
    key (it hears the erasure), so what it writes next is sealed under a new key that A
    can open, never under the destroyed one."""
    from unison_context.main import create_app
    from unison_shared.testing import app_client, running_app

    from .conftest import context_settings

    alice = make_caller()
    pid, h, tenant = alice.person_id, alice.headers, alice.household_id
    async with running_app(create_app, context_settings(context_env)) as replica, \
            app_client(replica, "http://context") as other:
        # Listening (it drops every cached key when it starts to).
        await asyncio.wait_for(replica.state.key_eviction.connected.wait(), 10)
        ok(await other.put(f"/v1/profiles/{pid}", headers=h, json={"n": 1}), 201)
        # A key is cached once seen committed (the write created it in its own
        # transaction): the read caches it.
        ok(await other.get(f"/v1/profiles/{pid}", headers=h))
        keys = replica.state.services.keys
        assert keys.holds(tenant, pid)
        ok(await client.post(f"/v1/admin/persons/{pid}/erasure",
                             headers=operator_headers(tenant)))
        for _ in range(100):
            if not keys.holds(tenant, pid):
                break
            await asyncio.sleep(0.05)
        assert not keys.holds(tenant, pid)
        ok(await other.put(f"/v1/profiles/{pid}", headers=h, json={"n": 2}), 201)
        assert ok(await client.get(f"/v1/profiles/{pid}", headers=h))["profile"]["n"] == 2


async def test_export_carries_any_stored_json(client, make_caller):
    """Stored JSON with integers beyond 64 bits (orjson cannot write them) and escapes
    exports as the API serves it."""
    alice = make_caller()
    value = {"big": 2**80 + 1, "deep": [[[[{"x": "\u2028\\u0000-free"}]]]], "neg": -(2**70)}
    assert ok(await client.post(f"/conversation/{alice.person_id}/s", headers=alice.headers,
                                json={"messages": [value]}))["ok"]
    kv = {"deep": value["deep"], "n": 7}
    assert ok(await client.post("/kv/set", headers=alice.headers,
                                json={"key": "odd", "value": kv}))["ok"]
    got = await export_lines(client, alice.person_id, alice.headers, secrets=True)
    served = ok(await client.get(f"/conversation/{alice.person_id}/s",
                                 headers=alice.headers))["messages"]
    assert abs(served[0]["big"]) > 2**64 and served[0]["deep"] == value["deep"]
    assert [m["record"]["body"] for m in got["conversation_messages"]] == served
    assert got["kv"][0]["record"]["value"] == kv
