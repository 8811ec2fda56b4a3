"""Objects on the S3 backend, against a real SeaweedFS: multipart streaming, ranges,
presigned links, reconcile, and readiness when the endpoint is down.

These tests use their own database, so reconcile here (which crosses tenants) only ever
sees rows whose payloads live in this bucket.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import pytest

from unison_devstack.procs import free_port

from .conftest import db_settings, fresh_storage_database
from .test_objects import app_client, chunked, sha, storage_key, upload

S3_DB = "storage_objects_s3"


@pytest.fixture(scope="module")
def s3_db_url(postgres):
    return fresh_storage_database(postgres, S3_DB)


@pytest.fixture(scope="module")
async def s3(storage_settings_factory, s3_env, s3_db_url):
    async with app_client(storage_settings_factory, s3_env, **db_settings(s3_db_url)) as pair:
        yield pair


async def tenant_keys(app, household: str) -> list[str]:
    store = app.state.services.objects.store
    return [b.key async for b in store.list_keys(f"{household}/")]


async def test_s3_multipart_roundtrip_range_head_delete(s3, alice):
    c, app = s3
    ready = await c.get("/readyz")  # the bucket did not exist: first use created it
    assert ready.status_code == 200 and ready.json()["checks"]["object_store"] == "ok"
    data = os.urandom(20 * 1024 * 1024 + 123)  # three multipart parts
    r = await upload(c, alice, chunked(data, 256 * 1024), content_type="video/mp4",
                     headers={"X-Content-SHA256": sha(data)})
    assert r.status_code == 201, r.text
    meta = r.json()
    assert meta["sha256"] == sha(data) and meta["size_bytes"] == len(data)
    got = await c.get(f"/v1/objects/{meta['id']}", headers=alice.headers)
    assert got.status_code == 200 and got.content == data
    assert got.headers["etag"] == f'"{sha(data)}"'
    span = (8 * 1024 * 1024 - 10, 8 * 1024 * 1024 + 10)  # across the first part boundary
    part = await c.get(f"/v1/objects/{meta['id']}",
                       headers={**alice.headers, "Range": f"bytes={span[0]}-{span[1]}"})
    assert part.status_code == 206 and part.content == data[span[0]:span[1] + 1]
    tail = await c.get(f"/v1/objects/{meta['id']}", headers={**alice.headers, "Range": "bytes=-7"})
    assert tail.content == data[-7:]
    head = await c.head(f"/v1/objects/{meta['id']}", headers=alice.headers)
    assert head.status_code == 200 and head.headers["content-length"] == str(len(data))
    key = await storage_key(app, meta["id"])
    assert key.startswith(f"{alice.household_id}/")
    blob = await app.state.services.objects.store.head(key)
    assert blob is not None and blob.size == len(data)
    assert (await c.delete(f"/v1/objects/{meta['id']}", headers=alice.headers)).status_code == 204
    assert await app.state.services.objects.store.head(key) is None
    assert (await c.get(f"/v1/objects/{meta['id']}", headers=alice.headers)).status_code == 404


async def test_s3_digest_mismatch_leaves_nothing(s3, alice):
    c, app = s3
    small = await upload(c, alice, b"small", headers={"X-Content-SHA256": sha(b"other")})
    assert small.status_code == 422
    big = os.urandom(9 * 1024 * 1024)  # multipart path
    r = await upload(c, alice, chunked(big, 512 * 1024), headers={"X-Content-SHA256": sha(b"x")})
    assert r.status_code == 422
    assert await tenant_keys(app, alice.household_id) == []
    assert (await c.get("/v1/objects", headers=alice.headers)).json()["items"] == []


async def test_s3_broken_stream_aborts_the_multipart_upload(s3, make_caller):
    from unison_storage.objects.store import new_storage_key

    _, app = s3
    store = app.state.services.objects.store
    tenant = make_caller().household_id
    key = new_storage_key(tenant)

    async def broken():
        for _ in range(20):  # 10 MiB: one part is already uploaded when it breaks
            yield os.urandom(512 * 1024)
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await store.put_stream(key, broken())
    assert await store.head(key) is None
    client = await store._s3()
    pending = await client.list_multipart_uploads(Bucket=store.bucket, Prefix=f"{tenant}/")
    assert pending.get("Uploads", []) == []


async def test_s3_presign_and_legacy(s3, alice, bob):
    import base64

    c, _ = s3
    data = os.urandom(1000)
    oid = (await upload(c, alice, data)).json()["id"]
    url = (await c.post(f"/v1/objects/{oid}/presign", json={"expires_in": 30},
                        headers=alice.headers)).json()["url"]
    parts = urlsplit(url)
    got = await c.get(f"{parts.path}?{parts.query}")
    assert got.status_code == 200 and got.content == data
    assert (await c.get(f"{parts.path}?{parts.query}".replace("sig=", "sig=f"))).status_code == 403
    r = await c.post("/objects", json={"content_b64": base64.b64encode(b"legacy").decode()},
                     headers=alice.headers)
    legacy_id = r.json()["id"]
    got = (await c.get(f"/objects/{legacy_id}", headers=alice.headers)).json()
    assert got["ok"] is True and base64.b64decode(got["content_b64"]) == b"legacy"
    assert (await c.get(f"/objects/{legacy_id}", headers=bob.headers)).json() == {
        "ok": False, "error": "not-found"}


async def test_s3_reconcile_repairs_both_orphan_kinds(s3, alice):
    from unison_storage.objects.store import new_storage_key

    c, app = s3
    svc = app.state.services.objects
    orphan = new_storage_key(alice.household_id)

    async def body():
        yield b"no row points here"

    await svc.store.put_stream(orphan, body())
    lost = (await upload(c, alice, b"payload to lose")).json()["id"]
    kept = (await upload(c, alice, b"payload to keep")).json()["id"]
    await svc.store.delete(await storage_key(app, lost))

    dry = await svc.reconcile(dry_run=True, grace_seconds=0)
    assert dry.orphan_blobs >= 1 and dry.orphan_blobs_deleted == 0
    assert f"{alice.household_id}/{lost}" in dry.missing and dry.rows_deleted == 0
    in_grace = await svc.reconcile(dry_run=False, grace_seconds=3600)
    assert in_grace.orphan_blobs_in_grace >= 1
    assert await svc.store.head(orphan) is not None  # young: maybe an upload in flight
    report = await svc.reconcile(dry_run=False, grace_seconds=0)
    assert report.orphan_blobs_deleted >= 1
    assert await svc.store.head(orphan) is None
    assert (await c.get(f"/v1/objects/{lost}/metadata", headers=alice.headers)).status_code == 404
    assert (await c.get(f"/v1/objects/{kept}", headers=alice.headers)).content == b"payload to keep"
    clean = await svc.reconcile(dry_run=True, grace_seconds=0)
    assert clean.orphan_blobs == 0 and clean.rows_missing_blob == 0


async def test_s3_unreachable_means_not_ready(storage_settings_factory, s3_env, alice):
    dead = {**s3_env, "STORAGE_S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
    async with app_client(storage_settings_factory, dead) as (c, _):
        r = await c.get("/readyz")
        assert r.status_code == 503
        assert "object_store" in r.json()["failing"]
        up = await upload(c, alice, b"nowhere to go")
        assert up.status_code == 503
        assert up.headers["content-type"].startswith("application/problem+json")


async def test_s3_reconcile_aborts_abandoned_multipart_uploads(s3, alice):
    """A process that dies mid-upload leaves a multipart upload holding its parts."""
    from unison_storage.objects.store import new_storage_key

    _, app = s3
    svc = app.state.services.objects
    client = await svc.store._s3()  # the store's own client: same endpoint and bucket
    key = new_storage_key(alice.household_id)
    started = await client.create_multipart_upload(Bucket=svc.store.bucket, Key=key)
    await client.upload_part(Bucket=svc.store.bucket, Key=key, PartNumber=1,
                             UploadId=started["UploadId"], Body=os.urandom(1024))

    async def open_uploads() -> set[str]:
        listed = await client.list_multipart_uploads(Bucket=svc.store.bucket)
        return {u["UploadId"] for u in listed.get("Uploads", [])}

    assert started["UploadId"] in await open_uploads()
    young = await svc.reconcile(dry_run=False, grace_seconds=3600)
    assert started["UploadId"] in await open_uploads()  # maybe still in flight: kept
    assert young.stale_uploads == 0
    dry = await svc.reconcile(dry_run=True, grace_seconds=0)
    assert dry.stale_uploads >= 1 and started["UploadId"] in await open_uploads()
    done = await svc.reconcile(dry_run=False, grace_seconds=0)
    assert done.stale_uploads >= 1
    assert started["UploadId"] not in await open_uploads()
