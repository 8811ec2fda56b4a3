"""Person erasure and export across the four services, driven by `unison-admin` against
the platform the Docker-free runner started.

Two persons of one household write marked data into every store (storage: KV, vault,
cache, memory, objects, audit, an agent session with history, state and an artifact;
context: profile, dashboard, conversation, KV; both graphs). One is exported, then
erased. After the erasure nothing about them is found in any table, the graph, Redis
or the object store, beyond the audit chain's ids; the receipt is signed; the audit
chain still verifies; the other person's data is untouched.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.platform import (
    HOUSEHOLD,
    Platform,
    files_holding,
    good,
    graph_dump,
    marker,
    ok,
    postgres_hits,
    redis_hits,
)
from unison_admin.export_archive import read_archive

pytestmark = pytest.mark.slow

ADMIN = str(Path(sys.executable).parent / "unison-admin")
SERVICES = ("storage", "context", "context-graph", "intent-graph")


def admin(plat: Platform, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**plat.env, "UNISON_STORAGE_URL": plat.storage, "UNISON_CONTEXT_URL": plat.context,
           "UNISON_CONTEXT_GRAPH_URL": plat.context_graph,
           "UNISON_INTENT_GRAPH_URL": plat.intent_graph}
    done = subprocess.run([ADMIN, *args], env=env, capture_output=True, text=True,
                          timeout=300)
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def dev_secret(plat: Platform) -> str:
    return str(plat.state_dir / "secrets" / "hs256")


def populate(plat: Platform, http: httpx.Client, pid: str) -> dict[str, str]:
    """Marked data of `pid` in every store; the markers by where they were written."""
    person = plat.person_headers(pid)
    m = {name: marker(name) for name in (
        "kv", "vault", "cache", "memory", "object", "audit", "history", "state",
        "artifact", "profile", "dashboard", "conversation", "ctxkv", "trace", "intent")}
    ok(http.put(f"{plat.storage}/kv/notes/{m['kv']}", headers=person,
                json={"value": {"note": m["kv"]}}))
    ok(http.put(f"{plat.storage}/kv/vault/payment:{pid}:card", headers=person,
                json={"value": {"token": m["vault"]}}))
    good(http.put(f"{plat.storage}/storage/cache/{m['cache']}", headers=person,
                  json={"key": m["cache"], "value": {"note": m["cache"]}, "ttl": 600}))
    ok(http.post(f"{plat.storage}/memory", headers=person,
                 json={"session_id": f"mem-{pid}", "data": {"note": m["memory"]}}))
    ok(http.post(f"{plat.storage}/objects", headers=person, json={
        "content_b64": base64.b64encode(f"doc {m['object']}".encode()).decode(),
        "content_type": "text/plain"}))
    good(http.post(f"{plat.storage}/v1/audit", headers=person, json={
        "action": "profile.viewed", "person_id": pid, "payload": {"note": m["audit"]}}), 201)
    base = f"{plat.storage}/storage"
    sid = good(http.post(f"{base}/sessions", headers=person,
                         json={"agent_name": "planner"}))["id"]
    good(http.post(f"{base}/history", headers=person,
                   json={"session_id": sid, "role": "user", "content": m["history"]}))
    good(http.put(f"{base}/state/{sid}", headers=person, json={"data": {"s": m["state"]}}))
    good(http.post(f"{base}/artifacts", headers=person, json={
        "session_id": sid, "name": "plan.md", "type": "document", "path": "/out/plan.md",
        "size": 0, "content_b64": base64.b64encode(m["artifact"].encode()).decode()}))

    ok(http.post(f"{plat.context}/profile/{pid}", headers=person,
                 json={"profile": {"locale": "en-GB", "voice": {"wakeword": m["profile"]}}}))
    ok(http.post(f"{plat.context}/dashboard/{pid}", headers=person, json={
        "dashboard": {"cards": [{"id": m["dashboard"]}], "preferences": {}}}))
    ok(http.post(f"{plat.context}/conversation/{pid}/s-{pid}", headers=person,
                 json={"messages": [{"role": "user", "content": m["conversation"]}],
                       "response": {}, "summary": ""}))
    ok(http.post(f"{plat.context}/kv/put", headers=person, json={
        "person_id": pid, "tier": "B",
        "items": {f"{pid}:profile:last_interaction": {"note": m["ctxkv"]}}}))

    good(http.post(f"{plat.context_graph}/context/update", headers=person, json={
        "user_id": pid, "session_id": f"s-{pid}",
        "dimensions": [{"name": "activity", "value": "dining"}]}))
    good(http.post(f"{plat.context_graph}/traces/replay", headers=person, json={
        "user_id": pid, "trace": [{"event": "turn",
                                   "metadata": {"tags": [m["trace"]], "text": m["trace"]}}]}))
    ok(http.post(f"{plat.intent_graph}/graph/intent", headers=person, json={
        "intent_id": m["intent"], "person_id": pid, "agent_id": marker("agent"),
        "name": "plan_trip", "rel_type": "HANDLES"}))
    good(http.get(f"{plat.intent_graph}/v1/routing/candidates", headers=person,
                  params={"intent_type": "plan_trip", "person_id": pid}))  # warms a cache
    return m


def test_export_then_erase_a_person_across_the_platform(platform: Platform,
                                                        http: httpx.Client,
                                                        tmp_path: Path):
    victim, bystander = marker("victim"), marker("bystander")
    gone = populate(platform, http, victim)
    kept = populate(platform, http, bystander)

    # Export, as the operator: every service's records, secrets redacted.
    archive = tmp_path / "victim.tar.gz"
    admin(platform, "export-person", victim, "--household", HOUSEHOLD, "--out", str(archive),
          "--hs256-secret-file", dev_secret(platform))
    manifest, files = read_archive(archive)
    assert manifest["person_id"] == victim and manifest["include_secrets"] is False
    assert set(manifest["records"]) == set(SERVICES)
    everything = b"".join(files.values())
    for name in ("kv", "memory", "object", "history", "state", "artifact", "profile",
                 "dashboard", "conversation", "ctxkv", "intent"):
        assert gone[name].encode() in everything, name
    assert gone["vault"].encode() not in everything  # a secret, redacted for the operator
    assert kept["kv"].encode() not in everything  # only the person asked for
    # The operator may not take secrets; only the person's own token may.
    refused = admin(platform, "export-person", victim, "--household", HOUSEHOLD,
                    "--out", str(tmp_path / "x.tar.gz"), "--include-secrets",
                    "--hs256-secret-file", dev_secret(platform), check=False)
    assert refused.returncode == 1 and "403" in refused.stderr
    own = platform.person_headers(victim)["Authorization"].split()[1]
    admin(platform, "export-person", victim, "--household", HOUSEHOLD,
          "--out", str(tmp_path / "own.tar.gz"), "--include-secrets", "--token", own)
    _, own_files = read_archive(tmp_path / "own.tar.gz")
    assert gone["vault"].encode() in b"".join(own_files.values())

    # Erase, as the operator; the receipt is signed by the platform key.
    key = tmp_path / "platform.pem"
    public = admin(platform, "new-signing-key", str(key)).stdout.strip()
    receipt = tmp_path / "receipt.json"
    admin(platform, "erase-person", victim, "--household", HOUSEHOLD, "--receipt",
          str(receipt), "--signing-key", str(key), "--hs256-secret-file",
          dev_secret(platform))
    verified = admin(platform, "verify-receipt", str(receipt), "--public-key", public)
    assert f"person-erasure of {victim}" in verified.stdout
    body: dict[str, Any] = json.loads(receipt.read_text())["receipt"]
    assert set(body["stores"]) == set(SERVICES)
    for service in SERVICES:
        assert sum(body["stores"][service]["removed"].values()) > 0, service
    assert body["stores"]["storage"]["keys_destroyed"] >= 1
    assert body["stores"]["context"]["keys_destroyed"] >= 1

    # Nothing of the person is left: no content anywhere, their id only in audit ids.
    for name, value in gone.items():
        assert postgres_hits(platform, "storage", value) == [], name
        assert postgres_hits(platform, "context", value) == [], name
        assert redis_hits(platform, value) == [], name
    assert postgres_hits(platform, "context", victim) == []
    assert set(postgres_hits(platform, "storage", victim)) <= {
        "public.audit_events.person_id", "public.audit_events.actor",
        "public.audit_events.target"}
    assert redis_hits(platform, victim) == []
    # Agents are household nodes: they stay, only the person's intents and edges go.
    graph = graph_dump(platform)
    assert victim not in graph and gone["intent"] not in graph and gone["trace"] not in graph
    objects = platform.state_dir / "objects"
    assert objects.is_dir()
    assert files_holding(objects, gone["object"]) == []
    assert files_holding(objects, gone["artifact"]) == []

    # The audit chain recorded it and still verifies.
    service = platform.service_headers()
    verify = good(http.post(f"{platform.storage}/v1/audit/verify", headers=service, json={}))
    assert verify["valid"] is True, verify

    # The bystander's data is all still there.
    other = platform.person_headers(bystander)
    assert ok(http.get(f"{platform.storage}/kv/vault/payment:{bystander}:card",
                       headers=other))["value"]["token"] == kept["vault"]
    assert ok(http.get(f"{platform.context}/profile/{bystander}", headers=other)
              )["profile"]["voice"]["wakeword"] == kept["profile"]
    assert postgres_hits(platform, "storage", kept["kv"])
    assert bystander in graph and kept["intent"] in graph

    # Erasing again is safe and finds nothing more.
    again = tmp_path / "again.json"
    admin(platform, "erase-person", victim, "--household", HOUSEHOLD, "--receipt",
          str(again), "--signing-key", str(key), "--hs256-secret-file", dev_secret(platform))
    second = json.loads(again.read_text())["receipt"]
    assert second["totals"]["removed"] == 0, second
