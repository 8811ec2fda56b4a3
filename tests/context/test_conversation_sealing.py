"""Conversation content sealed under the person's data key (migration 0002): turns written
through the legacy and /v1 routes leave no plaintext in any column of any table (scanned
as the superuser) and read back as written; a plaintext row written before 0002 (put in
as the owner) is still served, and `unison-context seal-conversations` seals it; after
the person's erasure, sealed content copied back from a "backup" does not open."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import asyncpg
import pytest

from unison_shared.testing import operator_headers

from .test_person_erasure import hits, ok


def v1(caller: Any) -> str:
    return f"/v1/conversations/{caller.person_id}/sessions"


def marker() -> str:
    # Letters only (a run of digits could pass for a card number somewhere).
    return "mk" + uuid.uuid4().hex.translate(str.maketrans("0123456789", "ghijklmnop"))


@pytest.fixture
async def owner(context_db_url: str):
    """The database owner, as the migrations run (row-level security applies to it: a
    write names its tenant with `as_tenant`)."""
    conn = await asyncpg.connect(context_db_url.replace("postgresql+asyncpg://",
                                                        "postgresql://", 1))
    try:
        yield conn
    finally:
        await conn.close()


async def as_tenant(conn: asyncpg.Connection, tenant: str, *statements: tuple[Any, ...]
                    ) -> None:
    async with conn.transaction():
        await conn.execute("SELECT set_config('app.tenant_id', $1, true)", tenant)
        for sql, *args in statements:
            await conn.execute(sql, *args)


async def pages(client: Any, caller: Any, sid: str, order: str, limit: int) -> list[Any]:
    """Every message of the session, page by page in one direction."""
    seen: list[Any] = []
    cursor = None
    while True:
        params = {"order": order, "limit": limit, **({"cursor": cursor} if cursor else {})}
        page = ok(await client.get(f"{v1(caller)}/{sid}/messages", headers=caller.headers,
                                   params=params))
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


async def seal_command(context_app: Any, context_env: dict[str, str], tmp_path: Any,
                       *extra: str) -> Any:
    from typer.testing import CliRunner

    from unison_context.cli import app as cli

    ring = tmp_path / "kek.json"  # the running app's keyring (generated for the tests)
    ring.write_text(context_app.state.services.keys.keyring.to_json())
    args = ["seal-conversations", "--keyring-file", str(ring), "--system-url",
            context_env["UNISON_DATABASE_SYSTEM_URL"], *extra]
    # The command runs its own event loop: off this one.
    return await asyncio.to_thread(CliRunner().invoke, cli, args)


async def test_both_apis_store_no_plaintext_and_read_back(client, make_caller, raw_db):
    alice = make_caller()
    pid, h, mark = alice.person_id, alice.headers, marker()
    legacy_messages = [{"role": "user", "content": f"hello-{mark}", "extra": [f"x-{mark}"]},
                       {"role": "assistant", "content": {"text": f"hi-{mark}"}},
                       f"bare-{mark}"]
    assert ok(await client.post(f"/conversation/{pid}/legacy", headers=h, json={
        "messages": legacy_messages, "response": {"text": f"resp-{mark}"},
        "summary": f"summary-{mark}"}))["ok"]
    appended = [{"role": "user", "content": f"v1-{i}-{mark}", "metadata": {"m": f"md-{mark}"}}
                for i in range(5)]
    out = ok(await client.post(f"{v1(alice)}/fresh/messages", headers=h,
                               json={"messages": appended}), 201)
    assert [(m["seq"], m["content"]) for m in out] == \
        [(i + 1, f"v1-{i}-{mark}") for i in range(5)]
    ok(await client.post(f"{v1(alice)}/legacy/messages", headers=h,
                         json={"messages": [{"role": "user", "content": f"more-{mark}"}]}), 201)
    state = ok(await client.patch(f"{v1(alice)}/fresh", headers=h, json={
        "response": {"text": f"r2-{mark}"}, "summary": f"s2-{mark}"}))
    assert (state["response"], state["summary"]) == ({"text": f"r2-{mark}"}, f"s2-{mark}")

    assert await hits(raw_db, mark) == []
    sealed = await raw_db.fetch(
        "SELECT body IS NULL AS plain_gone, sealed IS NOT NULL AS is_sealed "
        "FROM conversation_messages WHERE person_id = $1", pid)
    assert len(sealed) == 9 and all(r["plain_gone"] and r["is_sealed"] for r in sealed)

    legacy = ok(await client.get(f"/conversation/{pid}/legacy", headers=h))
    assert legacy["messages"] == [*legacy_messages, {"role": "user", "content": f"more-{mark}",
                                                     "metadata": {}}]
    assert (legacy["response"], legacy["summary"]) == ({"text": f"resp-{mark}"},
                                                       f"summary-{mark}")
    forward = await pages(client, alice, "fresh", "asc", 2)
    assert [(m["seq"], m["role"], m["content"], m["metadata"]) for m in forward] == \
        [(i + 1, "user", f"v1-{i}-{mark}", {"m": f"md-{mark}"}) for i in range(5)]
    backward = await pages(client, alice, "fresh", "desc", 2)
    assert backward == list(reversed(forward))
    bare = (await pages(client, alice, "legacy", "asc", 10))[2]
    assert (bare["role"], bare["content"]) == (None, f"bare-{mark}")
    listed = ok(await client.get(v1(alice), headers=h))["items"]
    assert {s["session_id"]: (s["response"], s["summary"], s["message_count"])
            for s in listed} == {
        "fresh": ({"text": f"r2-{mark}"}, f"s2-{mark}", 5),
        "legacy": ({"text": f"resp-{mark}"}, f"summary-{mark}", 4)}
    # A field left out of a PATCH keeps its sealed value; null clears it.
    kept = ok(await client.patch(f"{v1(alice)}/fresh", headers=h, json={"response": None}))
    assert (kept["response"], kept["summary"]) == (None, f"s2-{mark}")


async def test_first_append_creates_the_key_and_a_blob_moved_does_not_open(
        client, context_app, make_caller, raw_db, owner):
    """The append is one statement in autocommit: a person's first write through it
    creates their key in a short transaction of its own. A sealed message copied into
    another session (the AAD binds the session) does not open."""
    alice = make_caller()
    pid, h, mark = alice.person_id, alice.headers, marker()
    ok(await client.post(f"{v1(alice)}/a/messages", headers=h,
                         json={"messages": [{"role": "user", "content": f"a-{mark}"}]}), 201)
    keys = await raw_db.fetchval("SELECT count(*) FROM person_data_keys WHERE person_id = $1",
                                 pid)
    assert keys == 1
    context_app.state.services.keys.forget(alice.household_id, pid)  # opened from the row
    assert (await pages(client, alice, "a", "asc", 5))[0]["content"] == f"a-{mark}"
    ok(await client.post(f"{v1(alice)}/b/messages", headers=h,
                         json={"messages": [{"role": "user", "content": "b"}]}), 201)
    await as_tenant(owner, alice.household_id, (
        "UPDATE conversation_messages SET sealed = (SELECT sealed FROM conversation_messages "
        "WHERE person_id = $1 AND session_id = 'a') WHERE person_id = $1 AND session_id = 'b'",
        pid))
    resp = await client.get(f"{v1(alice)}/b/messages", headers=h)
    assert resp.status_code == 500 and mark not in resp.text, resp.text
    assert "failed its check" in resp.text  # IntegrityFailure


async def test_plaintext_rows_are_served_then_sealed_by_the_command(
        client, context_app, context_env, make_caller, raw_db, owner, tmp_path):
    alice = make_caller()
    pid, h, tenant, mark = alice.person_id, alice.headers, alice.household_id, marker()
    bodies = [{"role": "user", "content": f"old-{mark}", "n": 2**70},
              {"role": "assistant", "content": {"deep": [[f"x-{mark}"]]}}, f"bare-{mark}"]
    # As a service before revision 0002 wrote them: plaintext columns only.
    await as_tenant(owner, tenant, (
        "INSERT INTO conversation_sessions (tenant_id, person_id, session_id, response, "
        "summary, next_seq, updated_at) VALUES ($1, $2, 'old', $3::jsonb, $4, 4, "
        "now() - interval '1 day')", tenant, pid, json.dumps({"text": f"resp-{mark}"}),
        f"summary-{mark}"), *[(
            "INSERT INTO conversation_messages (tenant_id, person_id, session_id, seq, body) "
            "VALUES ($1, $2, 'old', $3, $4::jsonb)", tenant, pid, i + 1, json.dumps(b))
            for i, b in enumerate(bodies)])
    # A session of both kinds: the response sealed by the service; the summary sealed,
    # then written in plaintext by a replica of the older version (the newer value).
    ok(await client.patch(f"{v1(alice)}/mixed", headers=h, json={
        "response": {"text": f"sealed-{mark}"}, "summary": "older summary"}))
    await as_tenant(owner, tenant, ("UPDATE conversation_sessions SET summary = $2 "
                                    "WHERE person_id = $1 AND session_id = 'mixed'",
                                    pid, f"plain-{mark}"))
    assert set(await hits(raw_db, mark)) == {"conversation_messages.body",
                                             "conversation_sessions.response",
                                             "conversation_sessions.summary"}

    async def served() -> dict[str, Any]:
        legacy = ok(await client.get(f"/conversation/{pid}/old", headers=h))
        mixed = ok(await client.get(f"{v1(alice)}/mixed", headers=h))
        listed = ok(await client.get(v1(alice), headers=h))["items"]
        return {"legacy": legacy, "asc": await pages(client, alice, "old", "asc", 2),
                "desc": await pages(client, alice, "old", "desc", 2),
                "mixed": (mixed["response"], mixed["summary"]),
                "listed": [(s["session_id"], s["response"], s["summary"]) for s in listed]}

    before = await served()
    assert before["legacy"]["messages"] == bodies
    assert (before["legacy"]["response"], before["legacy"]["summary"]) == \
        ({"text": f"resp-{mark}"}, f"summary-{mark}")
    assert [m["seq"] for m in before["asc"]] == [1, 2, 3]
    assert before["desc"] == list(reversed(before["asc"]))
    assert before["mixed"] == ({"text": f"sealed-{mark}"}, f"plain-{mark}")
    assert before["listed"] == [
        ("mixed", {"text": f"sealed-{mark}"}, f"plain-{mark}"),
        ("old", {"text": f"resp-{mark}"}, f"summary-{mark}")]

    result = await seal_command(context_app, context_env, tmp_path, "--batch", "2")
    assert result.exit_code == 0, result.output
    assert "sealed: 3 message(s), 2 session(s); left in plain text: 0 message(s), " \
        "0 session(s)" in result.output
    assert await hits(raw_db, mark) == []
    assert await served() == before
    context_app.state.services.keys.forget(tenant, pid)
    assert await served() == before  # opened with the key read back from its row
    again = await seal_command(context_app, context_env, tmp_path)
    assert again.exit_code == 0, again.output
    assert "sealed: 0 message(s), 0 session(s)" in again.output


async def test_sealed_content_copied_back_after_erasure_does_not_open(
        client, make_caller, raw_db, owner):
    alice = make_caller()
    pid, h, tenant, mark = alice.person_id, alice.headers, alice.household_id, marker()
    ok(await client.post(f"{v1(alice)}/s/messages", headers=h, json={
        "messages": [{"role": "user", "content": f"secret-{mark}"}]}), 201)
    ok(await client.patch(f"{v1(alice)}/s", headers=h, json={
        "response": {"text": f"resp-{mark}"}, "summary": f"sum-{mark}"}))
    session = dict(await raw_db.fetchrow(
        "SELECT * FROM conversation_sessions WHERE person_id = $1", pid))
    message = dict(await raw_db.fetchrow(
        "SELECT * FROM conversation_messages WHERE person_id = $1", pid))
    assert message["sealed"] is not None and message["body"] is None
    ok(await client.post(f"/v1/admin/persons/{pid}/erasure", headers=operator_headers(tenant)))
    assert await hits(raw_db, pid) == []

    def insert(table: str, row: dict[str, Any]) -> tuple[Any, ...]:
        columns = ", ".join(row)
        values = ", ".join(f"${i + 1}" for i in range(len(row)))
        return (f"INSERT INTO {table} ({columns}) VALUES ({values})", *row.values())

    async def refused(*paths: str, status: int = 410, reason: str = "was erased") -> None:
        for path in paths:
            resp = await client.get(path, headers=h)
            # 410 while the person has no key (erased); once a new key exists, an old
            # blob fails its check under it (500, as any record that does not open).
            assert resp.status_code == status, (path, resp.text)
            assert mark not in resp.text and reason in resp.text, resp.text

    messages = (f"{v1(alice)}/s/messages", f"/conversation/{pid}/s")
    state = (f"{v1(alice)}/s", v1(alice), f"/conversation/{pid}/s")
    # The message alone first (its session restored without the sealed state) ...
    bare = {**session, "response_sealed": None, "response_dek_version": None,
            "summary_sealed": None, "summary_dek_version": None}
    await as_tenant(owner, tenant, insert("conversation_sessions", bare),
                    insert("conversation_messages", dict(message)))
    await refused(*messages)  # the key is gone
    assert ok(await client.get(f"{v1(alice)}/s", headers=h))["response"] is None
    # ... then the session's sealed response and summary.
    await as_tenant(owner, tenant, ("DELETE FROM conversation_sessions WHERE person_id = $1",
                                    pid),
                    insert("conversation_sessions", dict(session)),
                    insert("conversation_messages", dict(message)))
    await refused(*messages, *state)
    ok(await client.put(f"/v1/profiles/{pid}", headers=h, json={"n": 1}), 201)
    assert await raw_db.fetchval("SELECT count(*) FROM person_data_keys WHERE person_id = $1",
                                 pid) == 1
    await refused(*messages, *state, status=500, reason="failed its check")  # a new key
    # of the same version opens nothing old
