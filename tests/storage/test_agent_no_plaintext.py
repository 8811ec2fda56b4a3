"""No agent state is stored or logged in plain text: states go in through /v1 and the
Cortex-Prime path (small ones inline, a large one offloaded as an object), then every
column of every table is scanned as the superuser (the scan of test_no_plaintext), the
object files on disk, Redis and the captured logs. A message (stored in clear on
purpose) is the positive control."""

from __future__ import annotations

import logging
import uuid

import redis

from .test_no_plaintext import _hits, _needles


async def test_agent_state_is_never_stored_or_logged_in_plain_text(
        client, alice, postgres, redis_server, storage_app, caplog):
    caplog.set_level(logging.DEBUG)
    tag = uuid.uuid4().hex[:12]
    small, large, cortex = f"st-small-{tag}", f"st-large-{tag}", f"st-cortex-{tag}"
    control = f"msg-control-{tag}"
    h = alice.headers
    tid = (await client.post("/v1/threads", json={"agent_name": "np"}, headers=h)).json()["id"]
    assert (await client.put(f"/v1/threads/{tid}/state", json={"data": {"api_key": small}},
                             headers=h)).status_code == 200
    assert (await client.put(f"/v1/threads/{tid}/state", json={
        "data": {"api_key": large, "pad": "p" * 100_000}}, headers=h)).status_code == 200
    assert (await client.put(f"/storage/state/{tid}", json={"data": {"token": cortex}},
                             headers=h)).status_code == 200
    await client.post(f"/v1/threads/{tid}/messages", json={"role": "user", "content": control},
                      headers=h)
    for version, secret in ((1, small), (2, large), (3, cortex)):
        r = await client.get(f"/v1/threads/{tid}/state/versions/{version}", headers=h)
        assert secret in r.text  # the caller reads them back

    found = _hits(postgres, [n for s in (small, large, cortex) for n in _needles(s)])
    assert found == {}, f"agent state in plain text in {found}"
    assert "thread_messages" in _hits(postgres, _needles(control))  # the scan works

    root = storage_app.state.services.objects.store.root
    files = [p for p in root.rglob(f"{alice.household_id}/*/*") if p.is_file()]
    assert files  # the large state is an object
    for path in files:
        data = path.read_bytes()
        assert all(s.encode() not in data for s in (small, large, cortex))
    r = redis.Redis.from_url(redis_server.url)
    try:
        for key in r.scan_iter(count=1000):
            value = r.get(key) if r.type(key) == b"string" else b""
            for s in (small, large, cortex):
                assert s.encode() not in key and s.encode() not in (value or b"")
    finally:
        r.close()
    for s in (small, large, cortex):
        assert s not in caplog.text
