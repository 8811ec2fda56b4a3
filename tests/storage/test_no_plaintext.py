"""No secret is ever stored or logged in plain text.

Known secrets go in through the vault (new and legacy paths, several versions, metadata
reads, lists) and through the sensitive KV namespace `vault` (the orchestrator's payment
tokens). Then every column of every table in the storage database is scanned as the
superuser (bypassing row-level security), with bytea rendered both as hex and as escape
text, for the plaintext, its UTF-8 hex and its base64; Redis keys and values, the audit
API and the captured logs are checked too. A positive control (the secret's *name*, which
is stored in clear on purpose) proves the scan can find what it looks for.
"""

from __future__ import annotations

import base64
import logging
import uuid

import redis

from .conftest import STORAGE_DB


def _needles(plain: str) -> list[str]:
    raw = plain.encode()
    return [plain, raw.hex(), base64.b64encode(raw).decode().rstrip("=")]


def _tables(postgres) -> list[str]:
    out = postgres.psql("SELECT table_name FROM information_schema.tables "
                        "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
                        STORAGE_DB)
    return [t for t in out.split() if t]


def _hits(postgres, needles: list[str]) -> dict[str, int]:
    """Rows per table whose full text (every column) contains any needle."""
    cond = " OR ".join(f"strpos(t::text, '{n}') > 0" for n in needles)
    found: dict[str, int] = {}
    for output in ("hex", "escape"):
        union = " UNION ALL ".join(
            f"SELECT '{table}', count(*) FROM \"{table}\" t WHERE {cond}"
            for table in _tables(postgres))
        out = postgres.psql(f"SET bytea_output = '{output}'; {union}", STORAGE_DB)
        for line in out.splitlines():
            table, _, count = line.partition("|")
            if int(count):
                found[table] = max(found.get(table, 0), int(count))
    return found


async def test_secrets_are_never_stored_or_logged_in_plain_text(client, alice, postgres,
                                                                 redis_server, caplog):
    caplog.set_level(logging.DEBUG)
    tag = uuid.uuid4().hex[:12]
    new_v1, new_v2 = f"np-vault-one-{tag}", f"np-vault-two-ünï-{tag}"
    legacy, card = f"np-legacy-{tag}", f"tok_SECRET{tag}"
    name = f"np-name-{tag}"
    h = alice.headers

    assert (await client.put(f"/v1/vault/secrets/{name}", headers=h,
                             json={"value": new_v1})).status_code == 201
    await client.put(f"/v1/vault/secrets/{name}", headers=h, json={"value": new_v2})
    assert (await client.get(f"/v1/vault/secrets/{name}?version=1",
                             headers=h)).json()["value"] == new_v1
    assert (await client.get(f"/v1/vault/secrets/{name}", headers=h)).json()["value"] == new_v2
    await client.get(f"/v1/vault/secrets/{name}/metadata", headers=h)
    await client.get("/v1/vault/secrets", headers=h)
    legacy_id = (await client.post("/vault", headers=h,
                                   json={"cipher_text": legacy})).json()["key_id"]
    assert (await client.get(f"/vault/{legacy_id}", headers=h)).json()["cipher_text"] == legacy
    kv_path = f"/kv/vault/payment:{alice.person_id}:card1"
    assert (await client.put(kv_path, headers=h,
                             json={"value": {"token": card}})).json()["ok"] is True
    assert (await client.get(kv_path, headers=h)).json()["value"] == {"token": card}

    # Positive controls: names are stored in clear, and so is a value in a KV namespace
    # that is not sensitive, so the scan must find both (in text and in jsonb columns).
    control = f"np-control-{tag}"
    await client.put("/kv/prefs/control", headers=h, json={"value": {"v": control}})
    assert _hits(postgres, [name]).get("vault_secrets") == 1
    assert _hits(postgres, _needles(control)) == {"kv_records": 1}
    for plain in (new_v1, new_v2, legacy, card):
        assert _hits(postgres, _needles(plain)) == {}, plain

    audit = await client.get("/v1/audit?limit=1000", headers=h)
    assert audit.status_code == 200 and len(audit.json()["items"]) >= 6
    cache = redis.Redis.from_url(redis_server.url)
    try:
        for key in cache.scan_iter(count=1000):
            blob = key + (cache.dump(key) or b"")
            assert not any(p.encode() in blob for p in (new_v1, new_v2, legacy, card))
    finally:
        cache.close()
    for plain in (new_v1, new_v2, legacy, card):
        assert plain not in audit.text
        assert plain not in caplog.text
