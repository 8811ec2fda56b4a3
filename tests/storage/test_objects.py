"""Objects over HTTP on the filesystem backend: streamed upload with SHA-256, ranges,
presigned links, quota, isolation, the legacy shapes, and reconcile."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import text

from unison_shared.testing import environ

from .conftest import running_client

# Helpers (also imported by the other objects test modules).


@asynccontextmanager
async def app_client(settings_factory: Callable[..., Any], env: dict[str, str],
                     **overrides: Any) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """A storage app (with lifespan) whose settings also see `env` (keys the session env
    already sets, like the database URL, go in as settings overrides instead)."""
    from unison_storage.main import create_app

    with environ(env):
        settings = settings_factory(**overrides)
    app = create_app(settings)
    async with running_client(app) as c:
        yield c, app


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def upload(client: httpx.AsyncClient, caller: Any, data: Any,
                 content_type: str = "application/octet-stream",
                 headers: dict[str, str] | None = None, **kw: Any) -> httpx.Response:
    return await client.post("/v1/objects", content=data, headers={
        **caller.headers, "Content-Type": content_type, **(headers or {})}, **kw)


async def chunked(data: bytes, size: int = 100) -> AsyncIterator[bytes]:
    """A body without Content-Length (chunked), so the service learns the size late."""
    for i in range(0, len(data), size):
        yield data[i:i + size]


async def storage_key(app: Any, object_id: str) -> str:
    async with app.state.services.db.system() as conn:
        return str((await conn.execute(text("SELECT storage_key FROM objects WHERE id = :i"),
                                       {"i": object_id})).scalar_one())


def tenant_files(app: Any, household: str) -> list[Path]:
    root = Path(app.state.services.objects.store.root) / household
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


# Upload and download


async def test_upload_download_roundtrip_with_sha256(client, alice, storage_app):
    data = os.urandom(3 * 1024 * 1024 + 17)
    r = await upload(client, alice, data, content_type="image/png",
                     params={"filename": "cat photo.png", "label": "kind:photo"},
                     headers={"X-Object-Labels": "album=2024,shared=no"})
    assert r.status_code == 201, r.text
    meta = r.json()
    assert meta["sha256"] == sha(data) and meta["size_bytes"] == len(data)
    assert meta["labels"] == {"kind": "photo", "album": "2024", "shared": "no"}
    assert meta["filename"] == "cat photo.png" and meta["person_id"] == alice.person_id
    assert r.headers["location"] == f"/v1/objects/{meta['id']}"
    got = await client.get(f"/v1/objects/{meta['id']}", headers=alice.headers)
    assert got.status_code == 200
    assert got.content == data
    assert got.headers["content-type"] == "image/png"
    assert got.headers["content-length"] == str(len(data))
    assert got.headers["etag"] == f'"{sha(data)}"'
    assert got.headers["accept-ranges"] == "bytes"
    assert "filename*=UTF-8''cat%20photo.png" in got.headers["content-disposition"]
    md = await client.get(f"/v1/objects/{meta['id']}/metadata", headers=alice.headers)
    assert md.json() == meta
    # The payload sits under the tenant's prefix, named by a fresh uuid, not the filename.
    key = await storage_key(storage_app, meta["id"])
    assert key.startswith(f"{alice.household_id}/") and "cat" not in key


async def test_matching_digests_are_accepted(client, alice):
    data = b"digest me" * 1000
    hexd = sha(data)
    b64 = base64.b64encode(bytes.fromhex(hexd)).decode()
    for header in ({"X-Content-SHA256": hexd.upper()}, {"Digest": f"sha-256={b64}"},
                   {"Content-Digest": f"sha-256=:{b64}:"}):
        r = await upload(client, alice, data, headers=header)
        assert r.status_code == 201, (header, r.text)
        assert r.json()["sha256"] == hexd


async def test_digest_mismatch_is_rejected_and_nothing_is_stored(client, alice, storage_app):
    data = b"the real body" * 100
    r = await upload(client, alice, data, headers={"X-Content-SHA256": sha(b"something else")})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "digest" in r.json()["detail"]
    r = await upload(client, alice, chunked(data), headers={"Digest": "sha-256=" + "A" * 43 + "="})
    assert r.status_code == 422
    assert tenant_files(storage_app, alice.household_id) == []
    listing = await client.get("/v1/objects", headers=alice.headers)
    assert listing.json()["items"] == []
    bad = await upload(client, alice, data, headers={"X-Content-SHA256": "xyz"})
    assert bad.status_code == 400 and "X-Content-SHA256" in bad.json()["detail"]


async def test_json_payload_is_opaque_to_the_identity_rule(client, alice):
    """An uploaded JSON document naming another person is content, not a request to act
    for them; the person in the query still counts."""
    doc = b'{"person_id": "someone-else", "user_id": "another"}'
    r = await upload(client, alice, doc, content_type="application/json")
    assert r.status_code == 201, r.text
    got = await client.get(f"/v1/objects/{r.json()['id']}", headers=alice.headers)
    assert got.content == doc and got.headers["content-type"] == "application/json"
    named = await upload(client, alice, doc, params={"person_id": "someone-else"})
    assert named.status_code == 403


async def test_range_requests(client, alice):
    data = bytes(range(256)) * 4  # 1024 bytes
    oid = (await upload(client, alice, data)).json()["id"]
    url, h = f"/v1/objects/{oid}", alice.headers
    cases = {"bytes=0-9": (0, 9), "bytes=1000-": (1000, 1023), "bytes=-5": (1019, 1023),
             "bytes=1020-5000": (1020, 1023)}
    for spec, (start, end) in cases.items():
        r = await client.get(url, headers={**h, "Range": spec})
        assert r.status_code == 206, spec
        assert r.content == data[start:end + 1]
        assert r.headers["content-range"] == f"bytes {start}-{end}/1024"
        assert r.headers["content-length"] == str(end - start + 1)
    for spec in ("bytes=1024-", "bytes=5000-6000", "bytes=-0"):
        r = await client.get(url, headers={**h, "Range": spec})
        assert r.status_code == 416, spec
        assert r.headers["content-range"] == "bytes */1024"
    # Multiple or malformed ranges are ignored: the whole object, 200.
    r = await client.get(url, headers={**h, "Range": "bytes=0-1,5-6"})
    assert r.status_code == 200 and r.content == data


async def test_head_and_delete(client, alice, storage_app):
    data = b"x" * 5000
    oid = (await upload(client, alice, data, content_type="text/plain")).json()["id"]
    r = await client.head(f"/v1/objects/{oid}", headers=alice.headers)
    assert r.status_code == 200 and r.content == b""
    assert r.headers["content-length"] == "5000"
    assert r.headers["etag"] == f'"{sha(data)}"'
    assert r.headers["content-type"].startswith("text/plain")
    part = await client.head(f"/v1/objects/{oid}", headers={**alice.headers, "Range": "bytes=0-9"})
    assert part.status_code == 206 and part.headers["content-range"] == "bytes 0-9/5000"
    path = Path(storage_app.state.services.objects.store.root) / await storage_key(storage_app,
                                                                                  oid)
    assert path.exists()
    assert (await client.delete(f"/v1/objects/{oid}", headers=alice.headers)).status_code == 204
    assert not path.exists()
    assert (await client.get(f"/v1/objects/{oid}", headers=alice.headers)).status_code == 404
    assert (await client.head(f"/v1/objects/{oid}", headers=alice.headers)).status_code == 404
    assert (await client.delete(f"/v1/objects/{oid}", headers=alice.headers)).status_code == 404


async def test_empty_object(client, alice):
    r = await upload(client, alice, b"")
    assert r.status_code == 201 and r.json()["size_bytes"] == 0
    got = await client.get(f"/v1/objects/{r.json()['id']}", headers=alice.headers)
    assert got.status_code == 200 and got.content == b""
    assert got.headers["etag"] == f'"{sha(b"")}"'


async def test_list_filters_and_pagination(client, alice):
    ids = []
    for i in range(5):
        r = await upload(client, alice, f"item {i}".encode(),
                         content_type="text/plain" if i % 2 else "image/jpeg",
                         params={"label": [f"n:{i}", "set:a" if i < 3 else "set:b"]})
        ids.append(r.json()["id"])
    seen: list[str] = []
    page = (await client.get("/v1/objects?limit=2", headers=alice.headers)).json()
    assert len(page["items"]) == 2
    seen += [x["id"] for x in page["items"]]
    while page["next_cursor"]:
        page = (await client.get("/v1/objects", params={"limit": 2, "cursor": page["next_cursor"]},
                                 headers=alice.headers)).json()
        seen += [x["id"] for x in page["items"]]
    assert seen == list(reversed(ids))  # newest first, each exactly once

    async def ids_for(**params: Any) -> list[str]:
        r = await client.get("/v1/objects", params=params, headers=alice.headers)
        assert r.status_code == 200, r.text
        return [x["id"] for x in r.json()["items"]]

    assert await ids_for(content_type="text/plain") == [ids[3], ids[1]]
    assert await ids_for(content_type="image/*") == [ids[4], ids[2], ids[0]]
    assert await ids_for(label="set:a") == [ids[2], ids[1], ids[0]]
    assert await ids_for(label=["set:a", "n:1"]) == [ids[1]]
    assert await ids_for(label="set=b", content_type="text/plain") == [ids[3]]
    third = (await client.get(f"/v1/objects/{ids[2]}/metadata",
                              headers=alice.headers)).json()["created_at"]
    assert await ids_for(created_after=third) == [ids[4], ids[3]]
    assert await ids_for(created_before=third) == [ids[1], ids[0]]
    assert await ids_for(person_id=alice.person_id, label="n:0") == [ids[0]]
    bad = await client.get("/v1/objects", params={"cursor": "nope!"}, headers=alice.headers)
    assert bad.status_code == 400 and "cursor" in bad.json()["detail"]


async def test_validation_names_the_field(client, alice):
    r = await upload(client, alice, b"x", content_type="not a type")
    assert r.status_code == 422 and "content_type" in r.json()["detail"]
    r = await upload(client, alice, b"x", params={"filename": "../etc/passwd"})
    assert r.status_code == 422 and "filename" in r.json()["detail"]
    r = await upload(client, alice, b"x", headers={"X-Object-Labels": "no-separator"})
    assert r.status_code == 422 and "labels" in r.json()["detail"]


# Presigned links


async def test_presign_valid_expired_and_tampered(client, alice, storage_app):
    from unison_storage.objects import presign

    data = os.urandom(4096)
    oid = (await upload(client, alice, data, params={"filename": "a.bin"})).json()["id"]
    r = await client.post(f"/v1/objects/{oid}/presign", json={"expires_in": 60},
                          headers=alice.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["url"].startswith("http://storage/v1/objects/")
    parts = urlsplit(body["url"])
    path = f"{parts.path}?{parts.query}"
    got = await client.get(path)  # no Authorization header at all
    assert got.status_code == 200 and got.content == data
    ranged = await client.get(path, headers={"Range": "bytes=0-99"})
    assert ranged.status_code == 206 and ranged.content == data[:100]
    assert (await client.head(path)).headers["content-length"] == "4096"
    # Tampering with any signed field, or the signature, is refused.
    other = (await upload(client, alice, b"other")).json()["id"]
    for bad in (path.replace(oid, other), path.replace("sig=", "sig=0"),
                path.replace(f"tenant={alice.household_id}", "tenant=h-evil"),
                path.replace("expires=", "expires=9"), path.replace("v=", "v=0")):
        assert (await client.get(bad)).status_code == 403, bad
    # An expired link, correctly signed, is refused too.
    key = storage_app.state.services.objects.presign_key
    tag = parse_qs(parts.query)["v"][0]
    old = presign.download_path(key, alice.household_id, oid, int(time.time()) - 5, tag)
    expired = await client.get(old)
    assert expired.status_code == 403 and "expired" in expired.json()["detail"]
    # A link outlives nothing: after delete it is a 404.
    assert (await client.delete(f"/v1/objects/{oid}", headers=alice.headers)).status_code == 204
    assert (await client.get(path)).status_code == 404
    # Nor does it serve whatever is uploaded later under the same id.
    reuse = await client.post("/objects", headers=alice.headers,
                              json={"id": oid, "content_b64": base64.b64encode(b"new").decode()})
    assert reuse.json()["ok"] is True
    assert (await client.get(path)).status_code == 404
    too_long = await client.post(f"/v1/objects/{other}/presign",
                                 json={"expires_in": 10 * 365 * 86400}, headers=alice.headers)
    assert too_long.status_code == 422 and "expires_in" in too_long.json()["detail"]


# Isolation


async def test_tenant_and_person_isolation(client, alice, bob, make_caller):
    oid = (await upload(client, alice, b"alice's secret file")).json()["id"]
    housemate = make_caller(household_id=alice.household_id)
    for caller in (bob, housemate):
        h = caller.headers
        assert (await client.get(f"/v1/objects/{oid}", headers=h)).status_code == 404
        assert (await client.head(f"/v1/objects/{oid}", headers=h)).status_code == 404
        assert (await client.get(f"/v1/objects/{oid}/metadata", headers=h)).status_code == 404
        assert (await client.post(f"/v1/objects/{oid}/presign", json={},
                                  headers=h)).status_code == 404
        assert (await client.delete(f"/v1/objects/{oid}", headers=h)).status_code == 404
        assert (await client.get("/v1/objects", headers=h)).json()["items"] == []
        legacy = await client.get(f"/objects/{oid}", headers=h)
        assert legacy.json() == {"ok": False, "error": "not-found"}
    # Naming another person in the query is refused outright (identity rule).
    r = await client.get("/v1/objects", params={"person_id": alice.person_id},
                         headers=bob.headers)
    assert r.status_code == 403
    assert (await client.get(f"/v1/objects/{oid}", headers=alice.headers)).status_code == 200
    assert (await client.post("/v1/objects", content=b"x")).status_code == 401


# Quota and size limits


async def test_quota_507_and_max_size_413(storage_settings_factory, make_caller):
    env = {"STORAGE_OBJECT_QUOTA_BYTES": "1000", "STORAGE_OBJECT_MAX_BYTES": "600",
           "STORAGE_LEGACY_OBJECT_MAX_BYTES": "100"}
    async with app_client(storage_settings_factory, env) as (c, app):
        carol = make_caller()
        too_big = await upload(c, carol, b"b" * 700)
        assert too_big.status_code == 413
        assert "600" in too_big.json()["detail"]
        too_big_streamed = await upload(c, carol, chunked(b"b" * 700))
        assert too_big_streamed.status_code == 413
        assert (await upload(c, carol, b"a" * 600)).status_code == 201
        over = await upload(c, carol, b"c" * 500)
        assert over.status_code == 507
        assert "quota" in over.json()["detail"] and over.json()["quota_bytes"] == 1000
        over_streamed = await upload(c, carol, chunked(b"c" * 500))
        assert over_streamed.status_code == 507
        assert len(tenant_files(app, carol.household_id)) == 1  # the failures left nothing
        # A housemate shares the household's quota.
        mate = make_caller(household_id=carol.household_id)
        assert (await upload(c, mate, b"d" * 400)).status_code == 201
        assert (await upload(c, mate, b"e")).status_code == 507
        # Legacy shapes for the same limits.
        big = await c.post("/objects", json={"content_b64": base64.b64encode(b"f" * 101).decode()},
                           headers=carol.headers)
        assert big.status_code == 413 and big.json() == {"ok": False, "error": "too-large"}
        full = await c.post("/objects", json={"content_b64": base64.b64encode(b"g").decode()},
                            headers=carol.headers)
        assert full.status_code == 507 and full.json()["error"] == "quota-exceeded"


async def test_concurrent_uploads_do_not_overshoot_quota(storage_settings_factory, make_caller):
    async with app_client(storage_settings_factory,
                          {"STORAGE_OBJECT_QUOTA_BYTES": "1000"}) as (c, app):
        dave = make_caller()
        results = await asyncio.gather(*[upload(c, dave, os.urandom(300)) for _ in range(8)])
        codes = sorted(r.status_code for r in results)
        assert codes == [201] * 3 + [507] * 5
        async with app.state.services.db.in_tenant(dave.household_id) as conn:
            used = await conn.fetchval("SELECT sum(size_bytes) FROM objects "
                                       "WHERE tenant_id = $1", dave.household_id)
        assert used == 900
        assert len(tenant_files(app, dave.household_id)) == 3


# Legacy paths


async def test_legacy_shapes(client, alice, bob):
    data = b"legacy payload \x00\x01"
    r = await client.post("/objects", json={"content_b64": base64.b64encode(data).decode(),
                                            "content_type": "text/plain"},
                          headers=alice.headers)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"ok", "id", "size_bytes"}
    assert body["ok"] is True and body["size_bytes"] == len(data)
    got = (await client.get(f"/objects/{body['id']}", headers=alice.headers)).json()
    assert got == {"ok": True, "id": body["id"], "person_id": alice.person_id,
                   "content_type": "text/plain", "size_bytes": len(data),
                   "checksum": sha(data), "content_b64": base64.b64encode(data).decode()}
    # The same object over the new API.
    v1 = await client.get(f"/v1/objects/{body['id']}", headers=alice.headers)
    assert v1.content == data
    # A caller-chosen id; re-uploading it replaces the payload.
    chosen = f"doc-{uuid.uuid4().hex[:6]}"
    for payload in (b"first", b"second version"):
        r = await client.post("/objects", json={"id": chosen,
                                                "content_b64": base64.b64encode(payload).decode()},
                              headers=alice.headers)
        assert r.json() == {"ok": True, "id": chosen, "size_bytes": len(payload)}
    got = (await client.get(f"/objects/{chosen}", headers=alice.headers)).json()
    assert base64.b64decode(got["content_b64"]) == b"second version"
    assert got["content_type"] == "application/octet-stream"
    # Bob's household has its own id space: the same id is his own object there.
    r = await client.post("/objects", json={"id": chosen, "content_b64": "Ym9i"},
                          headers=bob.headers)
    assert r.json()["ok"] is True
    assert base64.b64decode((await client.get(f"/objects/{chosen}", headers=alice.headers))
                            .json()["content_b64"]) == b"second version"
    bad = await client.post("/objects", json={"content_b64": "not base64!!"},
                            headers=alice.headers)
    assert bad.status_code == 400 and bad.json() == {"ok": False, "error": "invalid-content"}
    missing = await client.get("/objects/does-not-exist", headers=alice.headers)
    assert missing.status_code == 200
    assert missing.json() == {"ok": False, "error": "not-found"}
    no_field = await client.post("/objects", json={"id": "x"}, headers=alice.headers)
    assert no_field.status_code == 400 and no_field.json()["ok"] is False
    assert "/" not in str(r.json())  # never a server path


# Reconcile and readiness


async def test_reconcile_repairs_both_orphan_kinds(client, alice, storage_app,
                                                   storage_env):
    svc = storage_app.state.services.objects
    root = Path(svc.store.root)
    # 1. A payload with no row, old enough to be an orphan; and a fresh one (in flight).
    old_orphan = root / alice.household_id / "ab" / uuid.uuid4().hex
    old_orphan.parent.mkdir(parents=True, exist_ok=True)
    old_orphan.write_bytes(b"orphan")
    two_hours_ago = time.time() - 7200
    os.utime(old_orphan, (two_hours_ago, two_hours_ago))
    stale_tmp = old_orphan.parent / ".tmp-crashed-upload"
    stale_tmp.write_bytes(b"partial")
    os.utime(stale_tmp, (two_hours_ago, two_hours_ago))
    fresh_orphan = old_orphan.parent / uuid.uuid4().hex
    fresh_orphan.write_bytes(b"in flight")
    # 2. A row whose payload vanished.
    lost = (await upload(client, alice, b"soon lost")).json()["id"]
    kept = (await upload(client, alice, b"kept")).json()["id"]
    (root / await storage_key(storage_app, lost)).unlink()
    assert (await client.get(f"/v1/objects/{lost}", headers=alice.headers)).status_code == 404

    # The CLI, in dry-run mode, reports without changing anything.
    proc = subprocess.run([sys.executable, "-m", "unison_storage.cli", "reconcile-objects",
                           "--dry-run"], env={**os.environ, **storage_env},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert '"dry_run": true' in proc.stdout
    assert f"{alice.household_id}/{lost}" in proc.stdout
    assert old_orphan.exists() and stale_tmp.exists()

    report = await svc.reconcile(dry_run=False, grace_seconds=3600)
    assert report.orphan_blobs_deleted >= 2 and report.orphan_blobs_in_grace >= 1
    assert report.rows_deleted >= 1
    assert f"{alice.household_id}/{lost}" in report.missing
    assert not old_orphan.exists() and not stale_tmp.exists()
    assert fresh_orphan.exists()
    ids = [x["id"] for x in (await client.get("/v1/objects", headers=alice.headers))
           .json()["items"]]
    assert lost not in ids and kept in ids
    again = await svc.reconcile(dry_run=False, grace_seconds=3600)
    assert f"{alice.household_id}/{lost}" not in again.missing
    fresh_orphan.unlink()


async def test_failed_stream_leaves_no_temporary_file(storage_app, make_caller):
    """A body that breaks off mid-way (a client that went away) leaves nothing behind."""
    from unison_storage.objects.store import new_storage_key

    store = storage_app.state.services.objects.store
    tenant = make_caller().household_id

    async def broken():
        for _ in range(3):
            yield os.urandom(700 * 1024)
        raise ConnectionResetError("client went away")

    key = new_storage_key(tenant)
    try:
        await store.put_stream(key, broken())
    except ConnectionResetError:
        pass
    else:
        raise AssertionError("the broken stream was stored")
    assert await store.head(key) is None
    assert tenant_files(storage_app, tenant) == []


async def test_openapi_lists_the_objects_routes(client):
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert {"/v1/objects", "/v1/objects/{object_id}", "/v1/objects/{object_id}/presign",
            "/v1/objects/{object_id}/download", "/objects"} <= set(paths)


async def test_readiness_reports_the_object_store(client):
    r = await client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["checks"]["object_store"] == "ok"
