"""The audit hash chain's two formats on PostgreSQL: v2 computed by the database in the
one-statement append must be byte-for-byte what Python's verify rebuilds, and a chain
holding v1 events (written before migration 0007) followed by v2 events verifies."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import asyncpg

from unison_storage.audit.chain import (
    GENESIS_HASH,
    canonical_bytes_v2,
    event_hash,
    event_hash_v2,
)

TRICKY_TEXT = [None, "", "-", "0:", "a:b", "é", "🙂 emoji", "line\nbreak", "tab\t\"q\"\\",
               "x" * 300]
TRICKY_TIMES = [
    datetime(2026, 11, 22, 3, 4, 5, 123456, tzinfo=UTC),
    datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),  # before the epoch
    datetime(1970, 1, 1, tzinfo=UTC),
    datetime(2262, 4, 11, 23, 47, 16, 854775, tzinfo=UTC),
    # a non-UTC offset: the instant, not the offset, is what the hash covers
    datetime(2026, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=5, minutes=30))),
]
PAYLOADS = ['{}', '{"n": 12345678901234567890123, "f": 1.50, "e": 1e400}',
            '{"k": [1, {"z": null, "a": "é🙂"}], "aa": true, "b": "\\u0000x"}'.replace(
                "\\u0000", "\\u0001")]


async def _pg(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))


async def test_python_and_postgres_build_the_same_v2_bytes(storage_app, storage_db_url):
    conn = await _pg(storage_db_url)
    try:
        cases = 0
        for i, value in enumerate(TRICKY_TEXT):
            for when in TRICKY_TIMES[i % 2:]:
                payload_text = await conn.fetchval("SELECT $1::text::jsonb::text",
                                                   PAYLOADS[i % len(PAYLOADS)])
                event = {"tenant_id": f"t-{value}", "seq": 10 ** 12 + i, "id": str(i),
                         "actor": value, "action": value or "act", "target": value,
                         "decision_id": value, "status": value, "person_id": value,
                         "created_at": when, "prev_hash": "f" * 64}
                from_pg = await conn.fetchval(
                    "SELECT audit_canonical_v2($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "
                    "$11, $12)", event["tenant_id"], event["seq"], event["id"],
                    event["actor"], event["action"], event["target"], event["decision_id"],
                    event["status"], event["person_id"], payload_text, when,
                    event["prev_hash"])
                assert bytes(from_pg) == canonical_bytes_v2(event, payload_text), (value, when)
                cases += 1
        assert cases == len(TRICKY_TEXT) * len(TRICKY_TIMES) - len(TRICKY_TEXT) // 2
    finally:
        await conn.close()


async def test_v2_fields_are_unambiguous():
    base = {"tenant_id": "t", "seq": 1, "id": "i", "actor": "ab", "action": "c",
            "target": None, "decision_id": None, "status": None, "person_id": None,
            "created_at": datetime(2026, 1, 1, tzinfo=UTC), "prev_hash": GENESIS_HASH}
    shifted = {**base, "actor": "a", "action": "bc"}
    empty = {**base, "target": ""}
    hashes = {event_hash_v2(e, "{}") for e in (base, shifted, empty)}
    assert len(hashes) == 3


def _literal(value: object) -> str:
    if value is None:
        return "NULL"
    return "'" + str(value).replace("'", "''") + "'"


async def test_chain_with_v1_then_v2_events_verifies(client, alice, postgres):
    """Two events as the pre-0007 code wrote them (v1, hashed in Python), then appends
    through the API (v2, hashed by PostgreSQL): one chain, valid; a v2 event relabelled
    as v1 is reported."""
    tenant, prev = alice.household_id, GENESIS_HASH
    start = datetime.now(UTC) - timedelta(minutes=5)
    statements = ["SET session_replication_role = replica"]
    for seq in (1, 2):
        event = {"tenant_id": tenant, "seq": seq, "id": str(uuid.uuid4()), "actor": "old",
                 "action": f"v1-{seq}", "target": None, "decision_id": None,
                 "status": "ok", "person_id": alice.person_id, "payload": {"n": seq},
                 "created_at": start + timedelta(seconds=seq), "prev_hash": prev}
        event["hash"] = event_hash(event)
        statements.append(
            "INSERT INTO audit_events (tenant_id, seq, id, actor, action, target, "
            "decision_id, status, person_id, payload, created_at, prev_hash, hash) VALUES ("
            + ", ".join(_literal(event[k]) for k in (
                "tenant_id", "seq", "id", "actor", "action", "target", "decision_id",
                "status", "person_id"))
            + f", '{{\"n\": {seq}}}', '{event['created_at'].isoformat()}', "
            f"'{prev}', '{event['hash']}')")
        prev = event["hash"]
    statements.append(f"INSERT INTO audit_heads VALUES ({_literal(tenant)}, 2, '{prev}')")
    postgres.psql("; ".join(statements), "storage_test", "postgres")

    appended = []
    for i in range(2):
        r = await client.post("/v1/audit", json={"action": f"v2-{i}"}, headers=alice.headers)
        assert r.status_code == 201, r.text
        appended.append(r.json())
    assert [e["seq"] for e in appended] == [3, 4]
    assert appended[0]["prev_hash"] == prev and appended[1]["prev_hash"] == appended[0]["hash"]
    versions = postgres.psql(
        "SELECT string_agg(hash_version::text, ',' ORDER BY seq) FROM audit_events "
        f"WHERE tenant_id = {_literal(tenant)}", "storage_test", "postgres")
    assert versions.strip() == "1,1,2,2"
    result = (await client.post("/v1/audit/verify", headers=alice.headers)).json()
    assert result == {"valid": True, "checked": 4, "first_broken_seq": None, "reason": None,
                      "checkpoints_checked": 0}

    postgres.psql("SET session_replication_role = replica; UPDATE audit_events "
                  f"SET hash_version = 1 WHERE tenant_id = {_literal(tenant)} AND seq = 4",
                  "storage_test", "postgres")
    result = (await client.post("/v1/audit/verify", headers=alice.headers)).json()
    assert result["valid"] is False and result["first_broken_seq"] == 4
