"""`Idempotency-Key` on POST /v1/objects: a retried upload is stored once, answered with
the stored object, and a key reused for a different upload is refused."""

from __future__ import annotations

import asyncio
import os

import pytest

from .test_objects import app_client, chunked, sha, tenant_files, upload


def keyed(key: str, **more: str) -> dict[str, str]:
    return {"Idempotency-Key": key, **more}


async def test_a_retry_is_answered_with_the_stored_object(client, alice, storage_app):
    data = os.urandom(70_000)
    params = {"filename": "report.pdf", "label": "kind:report"}
    first = await upload(client, alice, data, content_type="application/pdf",
                         params=params, headers=keyed("upload-1"))
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    retry = await upload(client, alice, chunked(data, 8192), content_type="application/pdf",
                         params=params, headers=keyed("upload-1"))
    assert retry.status_code == 201
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()
    assert retry.headers["Location"] == first.headers["Location"]
    listed = (await client.get("/v1/objects", headers=alice.headers)).json()["items"]
    assert [o["id"] for o in listed] == [first.json()["id"]]
    assert len(tenant_files(storage_app, alice.household_id)) == 1
    got = await client.get(f"/v1/objects/{first.json()['id']}", headers=alice.headers)
    assert sha(got.content) == sha(data)


async def test_the_quoted_form_of_a_key_is_the_same_key(client, alice):
    first = await upload(client, alice, b"payload", headers=keyed("k-42"))
    retry = await upload(client, alice, b"payload", headers=keyed('"k-42"'))
    assert retry.status_code == 201 and retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json()["id"] == first.json()["id"]


@pytest.mark.parametrize("change", ["payload", "filename", "content_type", "labels",
                                    "longer"])
async def test_a_key_reused_for_a_different_upload_is_422(client, alice, storage_app, change):
    data = b"the original payload"
    first = await upload(client, alice, data, params={"filename": "a.txt"},
                         headers=keyed("reused", **{"X-Object-Labels": "x=1"}))
    assert first.status_code == 201
    body, params, ctype = data, {"filename": "a.txt"}, "application/octet-stream"
    labels = "x=1"
    if change == "payload":
        body = b"the other payload!!!"  # same length, different bytes
    elif change == "longer":
        body = data + os.urandom(200_000)  # read only until it is longer than the original
    elif change == "filename":
        params = {"filename": "b.txt"}
    elif change == "content_type":
        ctype = "text/plain"
    else:
        labels = "x=2"
    again = await upload(client, alice, body, content_type=ctype, params=params,
                         headers=keyed("reused", **{"X-Object-Labels": labels}))
    assert again.status_code == 422
    problem = again.json()
    assert "Idempotency-Key" in problem["detail"]
    assert problem["object_id"] == first.json()["id"]
    # The original is untouched and nothing else was stored.
    got = await client.get(f"/v1/objects/{first.json()['id']}", headers=alice.headers)
    assert got.content == data and got.headers["Content-Type"] == "application/octet-stream"
    assert len(tenant_files(storage_app, alice.household_id)) == 1


async def test_a_retry_still_checks_the_digest_it_sends(client, alice):
    await upload(client, alice, b"abc", headers=keyed("digest"))
    wrong = await upload(client, alice, b"abc",
                         headers=keyed("digest", **{"X-Content-SHA256": sha(b"abd")}))
    assert wrong.status_code == 422
    assert "digest" in wrong.json()["detail"]


async def test_keys_belong_to_their_person(client, alice, make_caller):
    housemate = make_caller(household_id=alice.household_id)
    mine = await upload(client, alice, b"same bytes", headers=keyed("shared-key"))
    theirs = await upload(client, housemate, b"same bytes", headers=keyed("shared-key"))
    assert mine.status_code == theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs.headers
    assert mine.json()["id"] != theirs.json()["id"]
    assert theirs.json()["person_id"] == housemate.person_id


@pytest.mark.parametrize("bad", [b"", b"has space", b"x" * 256, "caf\u00e9".encode(),
                                 b'"open', b'a"b', b"tab\there"])
async def test_a_malformed_key_is_400_naming_the_header(client, alice, storage_app, bad):
    r = await client.post("/v1/objects", content=b"data",
                          headers=[*alice.headers.items(), (b"Idempotency-Key", bad)])
    assert r.status_code == 400
    assert r.json()["detail"].startswith("Idempotency-Key:")
    assert tenant_files(storage_app, alice.household_id) == []


async def test_concurrent_attempts_with_one_key_store_one_object(client, alice, storage_app):
    data = os.urandom(300_000)
    results = await asyncio.gather(*[
        upload(client, alice, chunked(data, 16384), headers=keyed("burst")) for _ in range(4)])
    assert [r.status_code for r in results] == [201] * 4
    assert len({r.json()["id"] for r in results}) == 1
    assert sum("Idempotent-Replayed" not in r.headers for r in results) == 1
    assert len(tenant_files(storage_app, alice.household_id)) == 1


async def test_a_retry_at_the_quota_is_answered_not_refused(storage_settings_factory,
                                                           make_caller):
    async with app_client(storage_settings_factory,
                          {"STORAGE_OBJECT_QUOTA_BYTES": "1000"}) as (c, app):
        erin = make_caller()
        first = await upload(c, erin, b"q" * 1000, headers=keyed("fills-the-quota"))
        assert first.status_code == 201
        assert (await upload(c, erin, b"r")).status_code == 507
        retry = await upload(c, erin, b"q" * 1000, headers=keyed("fills-the-quota"))
        assert retry.status_code == 201 and retry.headers["Idempotent-Replayed"] == "true"
        assert len(tenant_files(app, erin.household_id)) == 1
