"""/v1/files: path-addressed content on the objects machinery: round trip, Range, HEAD,
S3-style listing with common prefixes, overwrite frees the old payload (unless another
record references it), presigned download, path validation, isolation."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import httpx

from .agent_helpers import count_rows, new_thread

F = "/v1/files"


async def put(client: Any, caller: Any, path: str, body: bytes,
              status: int = 201, **headers: str) -> dict[str, Any]:
    r = await client.put(f"{F}/{path}", content=body, headers={**caller.headers, **headers})
    assert r.status_code == status, r.text
    meta: dict[str, Any] = r.json()
    return meta


async def _stream(data: bytes, size: int = 65536) -> Any:
    for i in range(0, len(data), size):
        yield data[i:i + size]


async def test_round_trip_range_head_delete(client, alice):
    data = os.urandom(300_000)
    r = await client.put(f"{F}/docs/report.bin", content=_stream(data),
                         headers={**alice.headers, "content-type": "application/x-test"})
    assert r.status_code == 201, r.text
    meta = r.json()
    assert meta["path"] == "docs/report.bin" and meta["size_bytes"] == len(data)
    assert meta["sha256"] == hashlib.sha256(data).hexdigest()
    assert r.headers["etag"] == f'"{meta["sha256"]}"'
    got = await client.get(f"{F}/docs/report.bin", headers=alice.headers)
    assert got.status_code == 200 and got.content == data
    assert got.headers["content-type"] == "application/x-test"
    assert "report.bin" in got.headers["content-disposition"]
    part = await client.get(f"{F}/docs/report.bin",
                            headers={**alice.headers, "range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == data[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"
    beyond = await client.get(f"{F}/docs/report.bin",
                              headers={**alice.headers, "range": "bytes=999999-"})
    assert beyond.status_code == 416
    head = await client.head(f"{F}/docs/report.bin", headers=alice.headers)
    assert head.status_code == 200 and head.headers["content-length"] == str(len(data))
    assert head.content == b""
    # The content is an object of the caller's, labelled as a file's.
    obj = await client.get(f"/v1/objects/{meta['object_id']}/metadata", headers=alice.headers)
    assert obj.json()["labels"] == {"kind": "file"} and obj.json()["filename"] == "report.bin"
    gone = await client.delete(f"{F}/docs/report.bin", headers=alice.headers)
    assert gone.status_code == 200
    assert gone.json() == {"path": "docs/report.bin", "payload_deleted": True}
    assert (await client.get(f"{F}/docs/report.bin", headers=alice.headers)).status_code == 404
    assert (await client.head(f"{F}/docs/report.bin", headers=alice.headers)).status_code == 404
    assert (await client.delete(f"{F}/docs/report.bin",
                                headers=alice.headers)).status_code == 404
    assert (await client.get(f"/v1/objects/{meta['object_id']}/metadata",
                             headers=alice.headers)).status_code == 404


async def test_overwrite_frees_the_old_payload_unless_referenced(client, storage_app, alice):
    db = storage_app.state.database
    first = await put(client, alice, "a/b.txt", b"one")
    second = await put(client, alice, "a/b.txt", b"two!", status=200)
    assert second["object_id"] != first["object_id"] and second["size_bytes"] == 4
    assert second["created_at"] == first["created_at"]
    assert second["updated_at"] > first["updated_at"]
    assert (await client.get(f"{F}/a/b.txt", headers=alice.headers)).content == b"two!"
    assert await count_rows(db, alice.household_id, "objects",
                            f"id = '{first['object_id']}'") == 0
    # An artifact referencing the current content keeps it through the next overwrite.
    thread = await new_thread(client, alice)
    art = await client.post(f"/v1/threads/{thread['id']}/artifacts",
                            json={"name": "b", "type": "file",
                                  "object_id": second["object_id"]}, headers=alice.headers)
    assert art.status_code == 201, art.text
    third = await put(client, alice, "a/b.txt", b"three", status=200)
    assert await count_rows(db, alice.household_id, "objects",
                            f"id = '{second['object_id']}'") == 1
    content = await client.get(f"/v1/threads/{thread['id']}/artifacts/{art.json()['id']}"
                               "/content", headers=alice.headers)
    assert content.content == b"two!"
    # Deleting the object through /v1/objects removes the path with it.
    assert (await client.delete(f"/v1/objects/{third['object_id']}",
                                headers=alice.headers)).status_code == 204
    assert (await client.get(f"{F}/a/b.txt", headers=alice.headers)).status_code == 404


async def test_listing_with_common_prefixes_and_cursor(client, make_caller):
    carol = make_caller()
    paths = ["a.txt", "b/1.txt", "b/2.txt", "b/c/3.txt", "b/d/4.txt", "b/e.txt", "bz.txt",
             "c/5.txt", "d.txt", "é/6.txt"]
    for p in paths:
        await put(client, carol, p, p.encode())

    async def page(**params: Any) -> dict[str, Any]:
        r = await client.get(F, params=params, headers=carol.headers)
        assert r.status_code == 200, r.text
        result: dict[str, Any] = r.json()
        return result

    everything = await page()
    assert [i["path"] for i in everything["items"]] == sorted(paths, key=str.encode)
    assert everything["common_prefixes"] == [] and everything["next_cursor"] is None
    top = await page(delimiter="/")
    assert [i["path"] for i in top["items"]] == ["a.txt", "bz.txt", "d.txt"]
    assert top["common_prefixes"] == ["b/", "c/", "é/"] and top["next_cursor"] is None
    under_b = await page(prefix="b/", delimiter="/")
    assert [i["path"] for i in under_b["items"]] == ["b/1.txt", "b/2.txt", "b/e.txt"]
    assert under_b["common_prefixes"] == ["b/c/", "b/d/"]
    assert [i["path"] for i in (await page(prefix="b"))["items"]] == [
        "b/1.txt", "b/2.txt", "b/c/3.txt", "b/d/4.txt", "b/e.txt", "bz.txt"]
    # Pages of two, entries and common prefixes counted alike, nothing lost or repeated.
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params: dict[str, Any] = {"delimiter": "/", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        p = await page(**params)
        seen += [i["path"] for i in p["items"]] + p["common_prefixes"]
        assert len(p["items"]) + len(p["common_prefixes"]) <= 2
        cursor = p["next_cursor"]
        if cursor is None:
            break
    assert seen == ["a.txt", "b/", "bz.txt", "c/", "d.txt", "é/"]
    first = await page(delimiter="/", limit=2)
    other = await client.get(F, params={"cursor": first["next_cursor"], "prefix": "b/"},
                             headers=carol.headers)
    assert other.status_code == 400 and "cursor" in other.text


async def test_presigned_download(client, alice):
    meta = await put(client, alice, "share/photo.jpg", b"jpeg bytes",
                     **{"content-type": "image/jpeg"})
    r = await client.post(f"{F}/presign", json={"path": "share/photo.jpg", "expires_in": 60},
                          headers=alice.headers)
    assert r.status_code == 200, r.text
    url = httpx.URL(r.json()["url"])
    anonymous = await client.get(url.path, params=dict(url.params))
    assert anonymous.status_code == 200 and anonymous.content == b"jpeg bytes"
    assert meta["object_id"] in url.path
    # An overwrite breaks the link: it was made for the content the path named then.
    await put(client, alice, "share/photo.jpg", b"other", status=200)
    assert (await client.get(url.path, params=dict(url.params))).status_code == 404
    missing = await client.post(f"{F}/presign", json={"path": "share/none"},
                                headers=alice.headers)
    assert missing.status_code == 404
    too_long = await client.post(f"{F}/presign", json={"path": "share/photo.jpg",
                                                       "expires_in": 10**9},
                                 headers=alice.headers)
    assert too_long.status_code == 422


async def test_path_validation(client, alice):
    # Dot segments percent-encoded: a client's URL library removes literal ones before
    # sending (httpx does), an attacker's does not, and the server decodes both alike.
    for bad, words in (("a/%2E%2E/b", "'..'"), ("a/%2E/b", "'.'"), ("%2E%2E", "'..'"),
                       ("a//b", "empty segment"), ("a/", "empty segment"), ("x" * 256, "segment"),
                       ("/".join(["abcdefgh"] * 120), "1024"), ("a%5Cb", "backslash"),
                       ("a%01b", "control")):
        r = await client.put(f"{F}/{bad}", content=b"x", headers=alice.headers)
        assert r.status_code == 422, (bad, r.text)
        assert words in r.json()["detail"], (bad, r.text)
        g = await client.get(f"{F}/{bad}", headers=alice.headers)
        assert g.status_code == 422, (bad, g.text)
    r = await client.post(f"{F}/presign", json={"path": "a/../b"}, headers=alice.headers)
    assert r.status_code == 422 and "'..'" in r.text
    assert (await client.get(F, params={"prefix": "a\\b"},
                             headers=alice.headers)).status_code == 422
    assert (await client.put(f"{F}/ok.txt", content=b"x")).status_code == 401
    ok = await put(client, alice, "ünïcode/ok name.txt", b"fine")
    assert ok["path"] == "ünïcode/ok name.txt"


async def test_isolation(client, alice, bob, make_caller):
    await put(client, alice, "private/notes.txt", b"alice's")
    for method in ("get", "head", "delete"):
        r = await getattr(client, method)(f"{F}/private/notes.txt", headers=bob.headers)
        assert r.status_code == 404, method
    assert (await client.get(F, headers=bob.headers)).json()["items"] == []
    housemate = make_caller(household_id=alice.household_id)
    assert (await client.get(f"{F}/private/notes.txt",
                             headers=housemate.headers)).status_code == 404
    link = await client.post(f"{F}/presign", json={"path": "private/notes.txt"},
                             headers=bob.headers)
    assert link.status_code == 404
    # Bob's own file at the same path is his; alice's stays hers.
    await put(client, bob, "private/notes.txt", b"bob's")
    assert (await client.get(f"{F}/private/notes.txt",
                             headers=alice.headers)).content == b"alice's"
    assert (await client.get(f"{F}/private/notes.txt",
                             headers=bob.headers)).content == b"bob's"


async def test_put_streams_past_the_request_body_cap(storage_env, alice):
    """Every PUT under /v1/files/ streams (main.StreamingRoutes): exempt from the cap on
    request bodies that parsed routes have; a PUT elsewhere is not."""
    from unison_shared.testing import app_client, running_app
    from unison_storage.main import create_app

    from .conftest import storage_settings

    settings = storage_settings({**storage_env, "UNISON_MAX_REQUEST_BODY_BYTES": "4096"})
    data = os.urandom(200_000)
    async with running_app(create_app, settings) as app, \
            app_client(app, "http://storage") as client:
        meta = await put(client, alice, "big/blob.bin", data)
        assert meta["size_bytes"] == len(data)
        assert (await client.get(f"{F}/big/blob.bin", headers=alice.headers)).content == data
        kv = await client.put("/v1/kv/ns/key", json={"value": "x" * 10_000},
                              headers=alice.headers)
        assert kv.status_code == 413


async def test_concurrent_overwrites_leave_one_object(client, storage_app, make_caller):
    """Writers of one path queue on its lock: each frees its predecessor's object, so
    however they interleave, one object (the last writer's) is left."""
    import asyncio

    dave = make_caller()
    bodies = [f"version {i}".encode() * 1000 for i in range(6)]
    replies = await asyncio.gather(*(client.put(f"{F}/race/same.txt", content=b,
                                                headers=dave.headers) for b in bodies))
    assert sorted(r.status_code for r in replies) == [200] * 5 + [201]
    final = await client.get(f"{F}/race/same.txt", headers=dave.headers)
    assert final.content in bodies
    db = storage_app.state.database
    assert await count_rows(db, dave.household_id, "objects",
                            "labels->>'kind' = 'file'") == 1
