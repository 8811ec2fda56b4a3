"""One request id across service hops, on the whole platform (`unison-devstack up`): a
request to context-graph that makes it call storage leaves JSON log lines with the same
request id (and trace id) in both services' logs under the platform's state dir
(`logs/<service>.log`, devstack/src/unison_devstack/services.py); and every service's
/metrics carries the families docs/observability.md lists."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.platform import Platform, good, marker

pytestmark = pytest.mark.slow


def log_entries(path: Path) -> list[dict[str, Any]]:
    """The JSON lines of a service's log (uvicorn's own plain lines are skipped)."""
    entries = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                entries.append(json.loads(line))
            except ValueError:
                continue
    return entries


def entries_of(plat: Platform, service: str, request_id: str,
               timeout: float = 10.0) -> list[dict[str, Any]]:
    """The log entries of `service` carrying `request_id` (waiting for them a little: the
    access line is written when the reply has gone)."""
    path = plat.state_dir / "logs" / f"{service}.log"
    deadline = time.monotonic() + timeout
    while True:
        found = [e for e in log_entries(path) if e.get("request_id") == request_id]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_a_chosen_request_id_reaches_storage_logs(platform: Platform, http: httpx.Client):
    pid = "rid-person"
    person = platform.person_headers(pid)
    request_id = f"e2e-{secrets.token_hex(12)}"
    trace_id = secrets.token_hex(16)
    traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    reply = http.post(f"{platform.context_graph}/context/update",
                      headers={**person, "X-Request-ID": request_id,
                               "traceparent": traceparent},
                      json={"user_id": pid, "dimensions": [{"name": "mood", "value": "ok"}]})
    assert good(reply)["state"]["user_id"] == pid
    assert reply.headers["x-request-id"] == request_id

    graph_lines = entries_of(platform, "context-graph", request_id)
    assert {(e["service"], e.get("route")) for e in graph_lines
            if e.get("msg") == "request"} == {("unison-context-graph", "/context/update")}
    # context-graph kept the state in storage's KV: storage logged those calls under the
    # caller's request id and trace.
    storage_lines = entries_of(platform, "storage", request_id)
    kv_calls = [e for e in storage_lines if e.get("msg") == "request"]
    assert kv_calls, "storage logged no request with the caller's request id"
    assert all(e["service"] == "unison-storage" for e in kv_calls)
    assert {e["route"] for e in kv_calls} <= {"/v1/kv/{namespace}/{key}"}
    assert {e["method"] for e in kv_calls} >= {"PUT"}
    assert {e.get("trace_id") for e in graph_lines + kv_calls} == {trace_id}
    # And nothing else carries it: the id names this request only.
    assert not entries_of(platform, "intent-graph", request_id, timeout=0)
    assert not entries_of(platform, "context", request_id, timeout=0)


def test_a_generated_request_id_follows_the_hop(platform: Platform, http: httpx.Client):
    """No X-Request-ID from the caller: context-graph makes one, answers with it, and
    storage logs the replay's KV writes under it."""
    pid = "rid-person-2"
    person = platform.person_headers(pid)
    reply = http.post(f"{platform.context_graph}/traces/replay", headers=person,
                      json={"user_id": pid, "trace": [
                          {"event": "companion_turn",
                           "metadata": {"tags": [marker("rid")], "note": "hello"}}]})
    good(reply)
    request_id = reply.headers["x-request-id"]
    trace_id = reply.headers["traceparent"].split("-")[1]
    storage_lines = [e for e in entries_of(platform, "storage", request_id)
                     if e.get("msg") == "request"]
    assert storage_lines and all(e.get("trace_id") == trace_id for e in storage_lines)
    assert entries_of(platform, "context-graph", request_id)


FAMILIES = {
    "storage": ("http_request_duration_seconds", "db_pool_connections",
                "db_pool_acquire_seconds", "db_pool_waiting", "cache_hits_total",
                "cache_misses_total"),
    "context": ("http_request_duration_seconds", "db_pool_connections",
                "db_pool_acquire_seconds", "db_pool_max_connections"),
    "context_graph": ("http_request_duration_seconds", "graph_query_duration_seconds",
                      "graph_query_errors_total", "graph_queries_in_flight",
                      "graph_pool_max_connections", "cache_hits_total",
                      "cache_misses_total"),
    "intent_graph": ("http_request_duration_seconds", "graph_query_duration_seconds",
                     "graph_query_errors_total", "graph_queries_in_flight",
                     "graph_pool_max_connections", "cache_hits_total",
                     "cache_misses_total"),
}


def test_every_service_serves_its_metrics(platform: Platform, http: httpx.Client):
    for service, families in FAMILIES.items():
        base = getattr(platform, service)
        assert http.get(f"{base}/healthz").status_code == 200
        text = http.get(f"{base}/metrics").text
        declared = {line.split()[2] for line in text.splitlines()
                    if line.startswith("# TYPE ")}
        missing = [f for f in families if f.removesuffix("_total") not in declared
                   and f not in declared]
        assert not missing, f"{service}: {missing}"
        # Latency per route template: the health route just called, never a raw path.
        assert 'route="/healthz"' in text, service
