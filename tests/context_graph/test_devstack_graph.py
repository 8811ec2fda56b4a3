"""`make up` with the graph services, end to end over real HTTP: ArcadeDB, both graph
services and the REAL storage service (PostgreSQL), then `make down`."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from unison_devstack.procs import free_port, port_open


@pytest.mark.slow
def test_up_serves_both_graph_services_over_real_storage(tmp_path):
    ports = {name: free_port() for name in (
        "DEVSTACK_POSTGRES_PORT", "DEVSTACK_REDIS_PORT", "DEVSTACK_STORAGE_PORT",
        "DEVSTACK_ARCADEDB_HTTP_PORT", "DEVSTACK_BOLT_PORT", "DEVSTACK_CONTEXT_GRAPH_PORT",
        "DEVSTACK_INTENT_GRAPH_PORT")}
    env = {**os.environ, "DEVSTACK_STATE_DIR": str(tmp_path / "state"),
           **{k: str(v) for k, v in ports.items()}}
    env.pop("UNISON_AUTH_HS256_SECRET", None)
    cli = [sys.executable, "-m", "unison_devstack.cli"]
    cg = f"http://127.0.0.1:{ports['DEVSTACK_CONTEXT_GRAPH_PORT']}"
    ig = f"http://127.0.0.1:{ports['DEVSTACK_INTENT_GRAPH_PORT']}"
    try:
        up = subprocess.run([*cli, "up"], env=env, capture_output=True, text=True, timeout=240)
        assert up.returncode == 0, up.stderr[-2000:]
        assert cg in up.stdout and ig in up.stdout
        token = subprocess.run(
            [*cli, "token", "--person", "alice", "--household", "home", "--audience",
             "context-graph,intent-graph,storage"],
            env=env, capture_output=True, text=True, check=True).stdout.strip()
        h = {"Authorization": f"Bearer {token}"}
        r = httpx.post(f"{cg}/context/update", headers=h, timeout=10, json={
            "user_id": "alice", "dimensions": [{"name": "mood", "value": "calm today"}]})
        assert r.status_code == 200, r.text
        q = httpx.post(f"{cg}/context/query", json={"user_id": "alice"}, headers=h, timeout=10)
        assert q.json()["state"]["dimensions"] == [{"name": "mood", "value": "calm today"}]
        storage = f"http://127.0.0.1:{ports['DEVSTACK_STORAGE_PORT']}"
        kept = httpx.get(f"{storage}/v1/kv/context-graph.state/alice", headers=h, timeout=10)
        assert kept.json()["value"]["dimensions"][0]["value"] == "calm today"
        r = httpx.post(f"{cg}/traces/replay", headers=h, timeout=10, json={
            "user_id": "alice", "trace": [{"event": "card.shown",
                                           "metadata": {"tags": ["news"]}}]})
        assert r.status_code == 200, r.text
        found = httpx.post(f"{cg}/traces/search", json={"user_id": "alice", "tags": ["news"]},
                           headers=h, timeout=10).json()["traces"]
        assert [t["event"] for t in found] == ["card.shown"]
        r = httpx.post(f"{ig}/graph/intent", headers=h, timeout=10, json={
            "person_id": "alice", "agent_id": "agent-1", "name": "weather.lookup",
            "rel_type": "HANDLES"})
        assert r.json()["ok"] is True
        r = httpx.post(f"{ig}/gesture/select", headers=h, timeout=10, json={
            "person_id": "alice", "card_id": "c1", "card_title": "Dinner"})
        assert r.json()["stored"] is True
        got = httpx.get(f"{ig}/gesture/latest", headers=h, timeout=10).json()
        assert got["gesture"]["card_title"] == "Dinner"
        for base in (cg, ig):
            assert httpx.get(f"{base}/readyz", timeout=10).json()["ready"] is True
    finally:
        down = subprocess.run([*cli, "down"], env=env, capture_output=True, text=True,
                              timeout=120)
    assert down.returncode == 0, down.stderr
    for name in ("context-graph", "intent-graph", "arcadedb"):
        assert name in down.stdout
    for name in ("DEVSTACK_BOLT_PORT", "DEVSTACK_CONTEXT_GRAPH_PORT",
                 "DEVSTACK_INTENT_GRAPH_PORT", "DEVSTACK_STORAGE_PORT"):
        assert not port_open(ports[name])
