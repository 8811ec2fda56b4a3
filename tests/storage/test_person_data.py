"""What the person erasure and export tests share (no tests of its own): a person's data
written through the API into every domain, each piece carrying a marker unique to the
person, and scans of PostgreSQL (every column of every table, as the superuser), the
object store's files and Redis for a string."""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import redis.asyncio as aioredis

from unison_devstack.postgres import SUPERUSER

from .conftest import STORAGE_DB

BIG = 70 * 1024  # over the inline limits: message, state and context go to objects


@dataclass
class Written:
    """What one person wrote, for the assertions."""
    marker: str
    thread_id: str = ""
    secret: str = ""
    kv_secret: str = ""
    payloads: dict[str, bytes] = field(default_factory=dict)  # domain:name -> bytes
    dataset_id: str = ""
    audit_id: str = ""
    state: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)


async def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.is_success, response.text
    body: dict[str, Any] = response.json() if response.content else {}
    return body


async def populate(client: httpx.AsyncClient, caller: Any) -> Written:
    """Write into every person-scoped domain as `caller`; every value holds a marker."""
    m = f"MARK{uuid.uuid4().hex}"
    w = Written(marker=m, secret=f"{m}-vault-secret", kv_secret=f"{m}-kv-secret")
    h = caller.headers
    s = "/v1/memory/sessions/sess-1"
    await _ok(await client.post(f"{s}/entries", headers=h, json={"payload": {"note": m}}))
    await _ok(await client.put(f"{s}/keys/k1", headers=h, json={"payload": [m, 1]}))
    await _ok(await client.put("/v1/kv/prefs/color", headers=h, json={"value": {"v": m}}))
    await _ok(await client.put("/v1/kv/vault/card", headers=h, json={"value": w.kv_secret}))
    await _ok(await client.put("/v1/vault/secrets/token", headers=h,
                               json={"value": w.secret + "-v1"}))
    await _ok(await client.put("/v1/vault/secrets/token", headers=h, json={"value": w.secret}))
    w.payloads["objects:upload"] = f"object bytes {m}".encode() + bytes(range(256))
    await _ok(await client.post("/v1/objects", content=w.payloads["objects:upload"],
                                headers={**h, "Content-Type": "application/octet-stream"}))
    thread = await _ok(await client.post("/v1/threads", headers=h, json={
        "agent_name": "agent", "title": f"title {m}", "metadata": {"m": m}}))
    w.thread_id = tid = thread["id"]
    t = f"/v1/threads/{tid}"
    await _ok(await client.post(f"{t}/messages", headers=h,
                                json={"role": "user", "content": f"hello {m}"}))
    await _ok(await client.post(f"{t}/messages", headers=h,
                                json={"role": "assistant", "content": m + "x" * BIG}))
    w.state = {"big": m + "y" * BIG, "step": 2}
    await _ok(await client.put(f"{t}/state", headers=h, json={"data": {"small": m}}))
    await _ok(await client.put(f"{t}/state", headers=h, json={"data": w.state}))
    w.payloads["artifacts:a.bin"] = f"artifact {m}".encode() + b"\x00\xff" * 10
    await _ok(await client.post(f"{t}/artifacts", headers=h, json={
        "name": "a.bin", "type": "file", "content_type": "application/octet-stream",
        "content_b64": base64.b64encode(w.payloads["artifacts:a.bin"]).decode()}))
    await _ok(await client.post("/v1/metrics", headers=h, json={
        "entity_type": "tool", "entity_name": "search", "metric_name": "calls", "value": 1,
        "labels": {"m": m}, "thread_id": tid}))
    start = datetime.now(UTC)
    await _ok(await client.post("/v1/traces/records", headers=h, json={
        "component": "inference", "operation_name": "generate",
        "start_time": start.isoformat(), "end_time": (start + timedelta(seconds=1)).isoformat(),
        "attributes": {"m": m, "big": m + "z" * 9000}}))
    w.context = {"token": f"ctx {m}", "big": m + "w" * BIG}
    for wf, context in (("wf-small", {"token": f"ctx {m}"}), ("wf-big", w.context)):
        await _ok(await client.post(f"/v1/workflows/{wf}/suspend", headers=h, json={
            "workflow_name": "onboarding", "current_step": "wait", "context_state": context,
            "suspend_reason": {"kind": "manual", "note": m}, "resume_conditions": []}))
    v = "/v1/vectors/collections"
    await _ok(await client.post(v, headers=h, json={"name": "notes", "dimension": 3,
                                                    "metadata": {"m": m}}))
    await _ok(await client.post(f"{v}/notes/documents", headers=h, json={"documents": [
        {"id": "d1", "embedding": [0.25, 0.5, 1.0], "text": f"doc {m}", "metadata": {"m": m}}]}))
    await _ok(await client.post(v, headers=h, json={
        "name": f"shared-{uuid.uuid4().hex[:8]}", "dimension": 3, "shared": True}))
    w.payloads["files:docs/note.txt"] = f"file {m}".encode()
    await _ok(await client.put("/v1/files/docs/note.txt", content=w.payloads[
        "files:docs/note.txt"], headers={**h, "Content-Type": "text/plain"}))
    # Household data the person made: it stays; only their id as its author goes.
    ds = await _ok(await client.post("/v1/evals/datasets", headers=h, json={
        "name": f"ds-{uuid.uuid4().hex[:8]}", "description": "household benchmark"}))
    w.dataset_id = ds["id"]
    await _ok(await client.post("/v1/evals/runs", headers=h,
                                json={"dataset_id": ds["id"], "model_name": "m1"}))
    await _ok(await client.put("/v1/cache/c1", headers=h, json={"value": {"m": m}, "ttl": 600}))
    event = await _ok(await client.post("/v1/audit", headers=h, json={
        "action": "note.added", "target": "note:1", "payload": {"note": m}}))
    w.audit_id = event["id"]
    return w


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def superuser(postgres: Any) -> asyncpg.Connection:
    conn: asyncpg.Connection = await asyncpg.connect(
        postgres.url(STORAGE_DB, SUPERUSER, driver="postgresql"))
    return conn


_SCANNED = ("text", "character varying", "jsonb", "json", "bytea", "ARRAY", "USER-DEFINED",
            "uuid", "tsvector")


async def postgres_hits(postgres: Any, needle: str) -> dict[str, int]:
    """{"table.column": rows} for every column of every table of the storage database
    holding `needle` (text, JSON, bytes, arrays, vectors...), read as the superuser, so
    row-level security hides nothing."""
    conn = await superuser(postgres)
    try:
        columns = await conn.fetch(
            "SELECT c.table_schema, c.table_name, c.column_name, c.data_type "
            "FROM information_schema.columns c JOIN information_schema.tables t "
            "ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
            "WHERE t.table_type = 'BASE TABLE' "
            "AND c.table_schema NOT IN ('pg_catalog', 'information_schema') "
            "AND c.data_type = ANY($1::text[])", list(_SCANNED))
        assert len(columns) > 50  # the scan sees the service's tables
        hits: dict[str, int] = {}
        for schema, table, column, data_type in columns:
            # Identifiers from the catalogue, quoted; the needle is a parameter.
            col = f'"{column}"'
            where = (f"position(convert_to($1, 'UTF8') in {col}) > 0" if data_type == "bytea"
                     else f"position($1 in {col}::text) > 0")
            n = await conn.fetchval(f'SELECT count(*) FROM "{schema}"."{table}" WHERE {where}',
                                    needle)
            if n:
                hits[f"{table}.{column}"] = n
        return hits
    finally:
        await conn.close()


def file_hits(root: Path, needle: bytes) -> list[str]:
    """Files under the object store's root holding `needle`."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and needle in p.read_bytes())


async def redis_hits(url: str, needle: str) -> list[str]:
    """Redis keys whose name or (string) value holds `needle`."""
    client = aioredis.Redis.from_url(url)
    try:
        found = []
        async for key in client.scan_iter(count=500):
            value = await client.get(key) if await client.type(key) == b"string" else b""
            if needle.encode() in key or needle.encode() in (value or b""):
                found.append(key.decode(errors="replace"))
        return found
    finally:
        await client.aclose()
