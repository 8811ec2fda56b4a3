"""No plaintext profile, dashboard, KV value, conversation message or PIN in any column:
every text, bytea and jsonb column of every table is scanned after known values are
written."""

from __future__ import annotations

import uuid


async def _columns(raw_db):
    return await raw_db.fetch(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'public' AND data_type IN ('text', 'bytea', 'jsonb', "
        "'character varying') AND table_name NOT LIKE 'alembic%'")


async def _occurrences(raw_db, marker: str) -> list[str]:
    found = []
    for col in await _columns(raw_db):
        table, column = col["table_name"], col["column_name"]
        if col["data_type"] == "bytea":
            predicate = f'position($1::bytea in "{column}") > 0'
            arg: object = marker.encode()
        else:
            predicate = f'strpos("{column}"::text, $1) > 0'
            arg = marker
        hit = await raw_db.fetchval(f'SELECT count(*) FROM "{table}" WHERE {predicate}', arg)
        if hit:
            found.append(f"{table}.{column}")
    return found


async def test_no_plaintext_in_any_column(client, alice, raw_db):
    pid = alice.person_id
    mark = uuid.uuid4().hex
    pin = "73" + mark[:6].translate(str.maketrans("abcdef", "123456"))
    h = alice.headers
    assert (await client.post(f"/profile/{pid}", headers=h, json={"profile": {
        "name": f"profile-{mark}", "security": {"pin": pin}}})).json()["ok"]
    assert (await client.put(f"/v1/profiles/{pid}", headers=h, json={
        "name": f"profile-{mark}", "security": {"pin": "***", "passcode": f"pc-{mark}"}})
            ).status_code == 200
    assert (await client.post(f"/dashboard/{pid}", headers=h, json={"dashboard": {
        "cards": [{"title": f"dashboard-{mark}"}]}})).json()["ok"]
    assert (await client.post("/kv/put", headers=h, json={
        "person_id": pid, "tier": "B", "items": {f"{pid}:profile:n": f"kv-{mark}"}})
            ).json()["ok"]
    assert (await client.post(f"/conversation/{pid}/s-{mark}", headers=h, json={
        "messages": [{"content": f"conversation-{mark}"}]})).json()["ok"]
    # Sanity: the scan finds what is stored in the clear (ids: the session's) ...
    assert sorted(await _occurrences(raw_db, f"s-{mark}")) == [
        "conversation_messages.session_id", "conversation_sessions.session_id"]
    # ... and nothing of the profile, the dashboard, the KV value, the PIN/passcode or
    # the conversation message.
    for secret in (f"profile-{mark}", f"dashboard-{mark}", f"kv-{mark}", pin,
                   f"pc-{mark}", f"conversation-{mark}"):
        assert await _occurrences(raw_db, secret) == [], secret
    # The readers still see the values.
    got = (await client.get(f"/profile/{pid}", headers=h)).json()
    assert got["profile"]["name"] == f"profile-{mark}"
    verify = await client.post(f"/v1/profiles/{pid}/credentials/verify", headers=h,
                               json={"secret": pin})
    assert verify.json() == {"valid": True}


async def test_ciphertext_bound_to_its_person(client, alice, make_caller, raw_db):
    carol = make_caller(household_id=alice.household_id)
    for caller in (alice, carol):
        await client.post(f"/profile/{caller.person_id}", headers=caller.headers,
                          json={"profile": {"owner": caller.person_id}})
    # Copy alice's sealed profile over carol's row: it must not open as carol's.
    await raw_db.execute(
        "UPDATE profiles SET ciphertext = (SELECT ciphertext FROM profiles "
        "WHERE person_id = $1), dek_version = 1, version = 1 WHERE person_id = $2",
        alice.person_id, carol.person_id)
    r = await client.get(f"/profile/{carol.person_id}", headers=carol.headers)
    assert r.status_code == 500
    assert alice.person_id not in r.text
