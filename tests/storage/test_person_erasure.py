"""Person erasure: POST /v1/admin/persons/{person_id}/erasure removes everything storage
holds about the person in the operator's household, destroys their data keys, and leaves
the audit chain verifiable with their payloads unreadable; nobody else's data moves."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from unison_devstack.tokens import mint_token
from unison_shared.errors import PersonErased
from unison_shared.testing import TEST_SECRET, operator_headers
from unison_storage.audit.sealing import sealed_parts
from unison_storage.keys.service import KeyOwner

from .test_objects import app_client
from .test_person_data import (
    Written,
    file_hits,
    populate,
    postgres_hits,
    redis_hits,
    superuser,
)

DOMAINS = {"memory", "vault", "kv", "objects", "threads", "messages", "state", "artifacts",
           "metrics", "traces", "workflows", "vectors", "files", "evals"}
# Where the erased person's id may stay: ids of append-only audit events.
AUDIT_ID_COLUMNS = {"audit_events.person_id", "audit_events.target", "audit_events.actor"}


def erasure(person_id: str) -> str:
    return f"/v1/admin/persons/{person_id}/erasure"


async def storage_keys(postgres: Any, tenant: str, person: str) -> list[str]:
    conn = await superuser(postgres)
    try:
        rows = await conn.fetch("SELECT storage_key FROM objects WHERE tenant_id = $1 "
                                "AND person_id = $2", tenant, person)
        return [r[0] for r in rows]
    finally:
        await conn.close()


async def audit_rows(postgres: Any, tenant: str, person: str) -> list[Any]:
    conn = await superuser(postgres)
    try:
        rows = await conn.fetch(
            "SELECT id, action, payload::text AS payload FROM audit_events "
            "WHERE tenant_id = $1 AND person_id = $2 ORDER BY seq", tenant, person)
        return [{**dict(r), "decoded": json.loads(r["payload"])} for r in rows]
    finally:
        await conn.close()


async def readable(client: Any, caller: Any, w: Written) -> None:
    """Everything `caller` wrote still reads back."""
    h = caller.headers
    r = await client.get("/v1/vault/secrets/token", headers=h)
    assert r.status_code == 200 and r.json()["value"] == w.secret
    r = await client.get("/v1/kv/vault/card", headers=h)
    assert r.status_code == 200 and r.json()["value"] == w.kv_secret
    r = await client.get(f"/v1/threads/{w.thread_id}/state", headers=h)
    assert r.status_code == 200 and r.json()["data"] == w.state
    r = await client.get(f"/v1/threads/{w.thread_id}/messages", headers=h)
    assert w.marker in r.json()["items"][-1]["content"]
    r = await client.get("/v1/files/docs/note.txt", headers=h)
    assert r.status_code == 200 and r.content == w.payloads["files:docs/note.txt"]
    r = await client.get("/v1/cache/c1", headers=h)
    assert r.status_code == 200 and r.json()["value"] == {"m": w.marker}
    r = await client.get(f"/v1/audit/{w.audit_id}", headers=h)
    assert r.status_code == 200 and r.json()["payload"] == {"note": w.marker}


async def test_erasure_removes_every_trace_of_the_person(
        client, storage_app, make_caller, postgres, redis_server, storage_env):
    alice = make_caller()
    carol = make_caller(household_id=alice.household_id)
    bob = make_caller()
    written = {c.person_id: await populate(client, c) for c in (alice, carol, bob)}
    mine = written[alice.person_id]
    blobs = await storage_keys(postgres, alice.household_id, alice.person_id)
    root = Path(storage_env["STORAGE_OBJECT_FS_ROOT"])
    assert blobs and all((root / key).is_file() for key in blobs)
    # The scans see the person's data before the erasure (and never a sealed secret).
    seen = await postgres_hits(postgres, mine.marker)
    assert {"kv_records.value", "memory_entries.payload", "thread_messages.content",
            "trace_spans.attributes", "vector_documents.text", "threads.title"} <= set(seen)
    assert await postgres_hits(postgres, mine.secret) == {}
    assert await postgres_hits(postgres, mine.kv_secret) == {}
    assert file_hits(root, mine.marker.encode())
    assert await redis_hits(redis_server.url, mine.marker)
    before = await audit_rows(postgres, alice.household_id, alice.person_id)
    sealed = [r for r in before if sealed_parts(r["decoded"]) is not None]
    assert [r["action"] for r in sealed] == ["note.added"]
    assert mine.marker not in sealed[0]["payload"]  # sealed at rest from the start

    r = await client.post(erasure(alice.person_id), headers=operator_headers(alice.household_id))
    assert r.status_code == 200, r.text
    receipt = r.json()
    assert receipt["service"] == "storage" and receipt["tenant_id"] == alice.household_id
    assert receipt["person_id"] == alice.person_id
    assert set(receipt["removed"]) == DOMAINS
    assert all(receipt["removed"][d] > 0 for d in DOMAINS), receipt["removed"]
    assert receipt["keys_destroyed"] >= 1 and receipt["caches_purged"] == 1
    assert datetime.fromisoformat(receipt["completed_at"]).utcoffset() is not None

    # PostgreSQL: the marker nowhere; the id only as an id of audit events.
    assert await postgres_hits(postgres, mine.marker) == {}
    assert set(await postgres_hits(postgres, alice.person_id)) <= AUDIT_ID_COLUMNS
    # The object store: the blobs and any byte of the person's content are gone.
    assert not any((root / key).exists() for key in blobs)
    assert file_hits(root, mine.marker.encode()) == []
    # Redis: nothing of the person.
    assert await redis_hits(redis_server.url, mine.marker) == []
    assert await redis_hits(redis_server.url, alice.person_id) == []

    # The audit chain still verifies; the sealed payload no longer opens.
    op = operator_headers(alice.household_id)
    verdict = (await client.post("/v1/audit/verify", headers=op)).json()
    assert verdict["valid"] is True and verdict["checked"] >= len(before) + 1, verdict
    after = await audit_rows(postgres, alice.household_id, alice.person_id)
    assert [r["payload"] for r in after[:len(before)]] == [r["payload"] for r in before]
    dek, blob = sealed_parts(sealed[0]["decoded"]) or (0, b"")
    keys = storage_app.state.services.keys
    async with storage_app.state.database.in_tenant(alice.household_id) as conn:
        with pytest.raises(PersonErased):
            await keys.decrypt(conn, KeyOwner(alice.household_id, alice.person_id), "audit",
                               alice.person_id, dek, blob)
    r = await client.get(f"/v1/audit/{mine.audit_id}", headers=op)
    assert r.status_code == 200 and r.json()["payload"] == {"erased": True}
    erased = after[-1]
    assert erased["action"] == "person.erased" and mine.marker not in erased["payload"]
    assert erased["decoded"]["removed"] == receipt["removed"]

    # Household data the person made stays, without their id.
    r = await client.get(f"/v1/evals/datasets/{mine.dataset_id}", headers=carol.headers)
    assert r.status_code == 200 and r.json()["created_by"] == "erased"
    # Everyone else's data is untouched and readable.
    for other in (carol, bob):
        await readable(client, other, written[other.person_id])
        assert await postgres_hits(postgres, written[other.person_id].marker)


async def test_only_an_operator_of_the_household_erases(client, make_caller):
    alice = make_caller()
    bob = make_caller()
    await client.put("/v1/kv/prefs/x", headers=alice.headers, json={"value": 1})
    acting = {"Authorization": "Bearer " + mint_token(
        TEST_SECRET, person_id=None, household_id=alice.household_id, sub="svc-worker",
        type="service", roles=["service"], audience=["storage"], scopes=["persons:act"])}
    for headers in (alice.headers, bob.headers, acting):
        r = await client.post(erasure(alice.person_id), headers=headers)
        assert r.status_code == 403, r.text
        assert r.json()["detail"]
    # An operator of another household erases there, not in Alice's.
    r = await client.post(erasure(alice.person_id), headers=operator_headers(bob.household_id))
    assert r.status_code == 200 and r.json()["removed"]["kv"] == 0
    assert (await client.get("/v1/kv/prefs/x", headers=alice.headers)).json()["value"] == 1


async def test_a_second_erasure_answers_zeros(client, make_caller):
    alice = make_caller()
    await populate(client, alice)
    op = operator_headers(alice.household_id)
    first = (await client.post(erasure(alice.person_id), headers=op)).json()
    assert first["removed"]["vault"] > 0 and first["keys_destroyed"] > 0
    r = await client.post(erasure(alice.person_id), headers=op)
    assert r.status_code == 200, r.text
    second = r.json()
    assert set(second["removed"]) == DOMAINS and not any(second["removed"].values())
    assert second["keys_destroyed"] == 0 and second["caches_purged"] == 0


async def test_the_same_person_id_in_another_household_is_untouched(client, make_caller):
    person = f"p-{uuid.uuid4().hex[:10]}"
    here = make_caller(person_id=person)
    there = make_caller(person_id=person)
    for caller in (here, there):
        await client.put("/v1/vault/secrets/s", headers=caller.headers, json={"value": "v"})
    r = await client.post(erasure(person), headers=operator_headers(here.household_id))
    assert r.json()["removed"]["vault"] == 2  # the secret and its version
    assert (await client.get("/v1/vault/secrets/s", headers=here.headers)).status_code == 404
    got = await client.get("/v1/vault/secrets/s", headers=there.headers)
    assert got.status_code == 200 and got.json()["value"] == "v"


async def test_after_erasure_the_person_starts_afresh(client, make_caller):
    alice = make_caller()
    await client.put("/v1/vault/secrets/s", headers=alice.headers, json={"value": "old"})
    await client.post(erasure(alice.person_id), headers=operator_headers(alice.household_id))
    r = await client.put("/v1/vault/secrets/s", headers=alice.headers, json={"value": "new"})
    assert r.status_code == 201, r.text
    got = await client.get("/v1/vault/secrets/s", headers=alice.headers)
    assert got.status_code == 200 and got.json()["value"] == "new"


async def test_erasure_on_s3_removes_the_persons_blobs_only(
        storage_settings_factory, s3_env, make_caller, postgres):
    alice = make_caller()
    carol = make_caller(household_id=alice.household_id)
    async with app_client(storage_settings_factory, s3_env) as (c, app):
        store = app.state.services.objects.store
        mine, theirs = await populate(c, alice), await populate(c, carol)
        blobs = set(await storage_keys(postgres, alice.household_id, alice.person_id))
        kept = set(await storage_keys(postgres, carol.household_id, carol.person_id))
        listed = {b.key async for b in store.list_keys(f"{alice.household_id}/")}
        assert blobs and kept and blobs | kept <= listed

        r = await c.post(erasure(alice.person_id), headers=operator_headers(alice.household_id))
        assert r.status_code == 200 and r.json()["removed"]["objects"] == len(blobs)
        left = {b.key async for b in store.list_keys(f"{alice.household_id}/")}
        assert not left & blobs and kept <= left
        for key in left:  # no byte of Alice's content in what is left
            body = await store.open_range(key, 0, (await store.head(key)).size - 1)
            assert mine.marker.encode() not in b"".join([x async for x in body])
        await readable(c, carol, theirs)
