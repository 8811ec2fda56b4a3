"""/v1/threads/{id}/artifacts: metadata rows, payloads inline (content-addressed,
stored once) or by the id of an uploaded object, downloads, and payloads deleted with
their last reference (never before)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re

from .agent_helpers import count_rows, new_thread

T = "/v1/threads"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def test_inline_payload_dedup_download_release(client, alice, storage_app):
    t1 = (await new_thread(client, alice))["id"]
    t2 = (await new_thread(client, alice))["id"]
    data = b"report bytes \x00\xff" * 100
    created = []
    for tid in (t1, t1, t2):
        r = await client.post(f"{T}/{tid}/artifacts", json={
            "name": "report.bin", "type": "file", "content_type": "application/x-report",
            "content_b64": _b64(data), "metadata": {"run": 1}}, headers=alice.headers)
        assert r.status_code == 201, r.text
        a = r.json()
        assert re.fullmatch(r"artifact_[0-9a-f]{16}", a["id"]) and a["thread_id"] == tid
        assert a["size_bytes"] == len(data) and a["sha256"] == hashlib.sha256(data).hexdigest()
        created.append(a)
    assert len({a["object_id"] for a in created}) == 1
    db = storage_app.state.database
    tenant = alice.household_id
    assert await count_rows(db, tenant, "objects") == 1
    a0 = created[0]
    got = await client.get(f"{T}/{t1}/artifacts/{a0['id']}", headers=alice.headers)
    assert got.json() == a0
    body = await client.get(f"{T}/{t1}/artifacts/{a0['id']}/content", headers=alice.headers)
    assert body.content == data and body.headers["content-type"] == "application/x-report"
    # Through another thread's path it is not found.
    assert (await client.get(f"{T}/{t2}/artifacts/{a0['id']}",
                             headers=alice.headers)).status_code == 404
    listed = (await client.get(f"{T}/{t1}/artifacts", params={"limit": 1},
                               headers=alice.headers)).json()
    assert [a["id"] for a in listed["items"]] == [created[1]["id"]]
    rest = (await client.get(f"{T}/{t1}/artifacts", params={"cursor": listed["next_cursor"]},
                             headers=alice.headers)).json()
    assert [a["id"] for a in rest["items"]] == [a0["id"]] and rest["next_cursor"] is None
    r = await client.delete(f"{T}/{t1}/artifacts/{a0['id']}", headers=alice.headers)
    assert r.json() == {"id": a0["id"], "payload_deleted": False}
    r = await client.delete(f"{T}/{t1}/artifacts/{created[1]['id']}", headers=alice.headers)
    assert r.json()["payload_deleted"] is False  # t2's artifact still refers to it
    r = await client.delete(f"{T}/{t2}", headers=alice.headers)
    assert r.json()["artifacts"] == 1 and r.json()["payloads"] == 1
    assert await count_rows(db, tenant, "objects") == 0
    assert list(storage_app.state.services.objects.store.root.rglob(f"{tenant}/*/*")) == []


async def test_uploaded_object_reference(client, alice, bob):
    tid = (await new_thread(client, alice))["id"]
    up = await client.post("/v1/objects", content=b"x" * 5000, headers={
        **alice.headers, "Content-Type": "image/png"})
    assert up.status_code == 201, up.text
    oid = up.json()["id"]
    r = await client.post(f"{T}/{tid}/artifacts", json={"name": "pic", "type": "image",
                                                        "object_id": oid},
                          headers=alice.headers)
    assert r.status_code == 201, r.text
    a = r.json()
    assert a["object_id"] == oid and a["size_bytes"] == 5000
    assert a["content_type"] == "image/png"
    content = await client.get(f"{T}/{tid}/artifacts/{a['id']}/content", headers=alice.headers)
    assert content.content == b"x" * 5000
    # Bob cannot reference Alice's object, by id or otherwise.
    bob_thread = (await new_thread(client, bob))["id"]
    r = await client.post(f"{T}/{bob_thread}/artifacts", json={"name": "p", "type": "i",
                                                               "object_id": oid},
                          headers=bob.headers)
    assert r.status_code == 422
    await client.delete(f"{T}/{tid}/artifacts/{a['id']}", headers=alice.headers)
    assert (await client.get(f"/v1/objects/{oid}", headers=alice.headers)).status_code == 404


async def test_concurrent_reference_and_release_keep_the_payload(client, alice, storage_app):
    """Deleting the last artifact while another one takes the same content: whichever
    commits, the survivor's payload is still there."""
    data = b"shared-payload" * 50
    for _ in range(5):
        tid = (await new_thread(client, alice))["id"]
        first = (await client.post(f"{T}/{tid}/artifacts", json={
            "name": "a", "type": "f", "content_b64": _b64(data)}, headers=alice.headers)).json()
        deleted, second = await asyncio.gather(
            client.delete(f"{T}/{tid}/artifacts/{first['id']}", headers=alice.headers),
            client.post(f"{T}/{tid}/artifacts", json={"name": "b", "type": "f",
                                                      "content_b64": _b64(data)},
                        headers=alice.headers))
        assert deleted.status_code == 200 and second.status_code == 201
        content = await client.get(f"{T}/{tid}/artifacts/{second.json()['id']}/content",
                                   headers=alice.headers)
        assert content.status_code == 200 and content.content == data
        await client.delete(f"{T}/{tid}", headers=alice.headers)
    assert await count_rows(storage_app.state.database, alice.household_id, "objects") == 0


async def test_bad_input(client, alice):
    tid = (await new_thread(client, alice))["id"]
    a = f"{T}/{tid}/artifacts"
    for body in ({"type": "f"}, {"name": "", "type": "f"}, {"name": "n", "type": "f",
                                                            "content_b64": "***"},
                 {"name": "n", "type": "f", "content_b64": "aGk=", "object_id": "x"},
                 {"name": "n", "type": "f", "object_id": "no-such-object"},
                 {"name": "n", "type": "f", "size": -1}):
        r = await client.post(a, json=body, headers=alice.headers)
        assert r.status_code == 422, (body, r.text)
    path_only = (await client.post(a, json={"name": "n", "type": "f", "path": "/x", "size": 9},
                                   headers=alice.headers)).json()
    assert path_only["object_id"] is None and path_only["size_bytes"] == 9
    r = await client.get(f"{a}/{path_only['id']}/content", headers=alice.headers)
    assert r.status_code == 404
    assert (await client.get(f"{a}/artifact_0000000000000000",
                             headers=alice.headers)).status_code == 404
    assert (await client.delete(f"{a}/artifact_0000000000000000",
                                headers=alice.headers)).status_code == 404
    assert (await client.get(f"{T}/session_0000000000000000/artifacts",
                             headers=alice.headers)).status_code == 404
    assert (await client.post(f"{T}/session_0000000000000000/artifacts",
                              json={"name": "n", "type": "f"},
                              headers=alice.headers)).status_code == 404
    assert (await client.get(a, params={"cursor": "zz"}, headers=alice.headers)
            ).status_code == 400
