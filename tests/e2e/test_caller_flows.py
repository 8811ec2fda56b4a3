"""The whole platform, started once with the Docker-free runner (`unison-devstack up`),
driven over real HTTP exactly as the existing UnisonOS callers drive it
(/work/shared/handbook/contract.md): the orchestrator's companion turn, profile reads,
write-behind KV, workflows, payment tokens in the vault, intents and their produced
resources, and a Cortex-Prime agent session.

Person-scoped calls carry the person's own token (the orchestrator forwards it); calls
that name no person (the orchestrator's `/kv/set` of workflows) carry an HS256 service
token, which the runner's services accept here because the module starts them with
`UNISON_AUTH_ACCEPT_SERVICE_TOKENS=true`.
"""

from __future__ import annotations

import base64
import secrets

import httpx
import pytest

from tests.e2e.platform import (
    Platform,
    files_holding,
    good,
    graph_dump,
    marker,
    ok,
    postgres_hits,
    redis_hits,
)

pytestmark = pytest.mark.slow

# --- the flows ---------------------------------------------------------------------


def test_companion_turn(platform: Platform, http: httpx.Client):
    """The orchestrator's turn: the conversation in context, read back; the turn logged
    to context-graph and found again by tag; its transcript kept in storage, not in the
    graph; the request id carried from context-graph to storage."""
    pid, sid = "alice", marker("session")
    person = platform.person_headers(pid)
    transcript = marker("transcript")
    turn = {"messages": [{"role": "user", "content": f"book a table {transcript}"},
                         {"role": "assistant", "content": "for how many?"}],
            "response": {"text": "for how many?", "cards": [{"id": "card-1"}]},
            "summary": "booking dinner", "ignored_extra": 1}
    stored = ok(http.post(f"{platform.context}/conversation/{pid}/{sid}", json=turn,
                          headers={**person, "X-Event-ID": "evt-1"}))
    assert stored["event_id"] == f"{pid}:{sid}"
    back = good(http.get(f"{platform.context}/conversation/{pid}/{sid}", headers=person))
    assert back["messages"] == turn["messages"]
    assert back["response"] == turn["response"]
    assert back["summary"] == "booking dinner"
    assert isinstance(back["updated_at"], float)
    assert good(http.get(f"{platform.context}/conversation/{pid}/unknown",
                         headers=person)) == {"messages": []}

    state = good(http.post(f"{platform.context_graph}/context/update", headers=person,
                           json={"user_id": pid, "session_id": sid,
                                 "dimensions": [{"name": "activity", "value": "dining"},
                                                {"name": "mood", "value": "hungry"}],
                                 "preferences": {"cuisine": "thai"}}))["state"]
    assert state["user_id"] == pid
    # Dimensions merge by name (the legacy service replaced the whole list).
    state = good(http.post(f"{platform.context_graph}/context/update", headers=person,
                           json={"user_id": pid,
                                 "dimensions": [{"name": "mood", "value": "happy"}]}))["state"]
    assert {d["name"]: d["value"] for d in state["dimensions"]} == \
        {"activity": "dining", "mood": "happy"}
    assert state["preferences"] == {"cuisine": "thai"}

    request_id = secrets.token_hex(16)
    tag = marker("turn")
    replayed = good(http.post(
        f"{platform.context_graph}/traces/replay",
        headers={**person, "X-Request-Id": request_id},
        json={"user_id": pid, "trace": [
            {"event": "companion_turn",
             "metadata": {"tags": ["companion", tag], "session_id": sid,
                          "transcript": transcript}},
            {"event": "card_shown", "metadata": {"tags": ["cards"], "card_id": "card-1"}},
        ]}))
    assert replayed["state"]["user_id"] == pid
    found = good(http.post(f"{platform.context_graph}/traces/search", headers=person,
                           json={"user_id": pid, "tags": [tag]}))["traces"]
    assert [t["event"] for t in found] == ["companion_turn"]
    assert found[0]["metadata"]["transcript"] == transcript
    assert found[0]["metadata"]["session_id"] == sid
    both = good(http.post(f"{platform.context_graph}/traces/search", headers=person,
                          json={"user_id": pid, "tags": [tag, "cards"], "limit": 50}))
    assert {t["event"] for t in both["traces"]} == {"companion_turn", "card_shown"}
    queried = good(http.post(f"{platform.context_graph}/context/query", headers=person,
                             json={"user_id": pid}))["state"]
    assert {d["name"] for d in queried["dimensions"]} == {"activity", "mood"}

    # The graph keeps ids, types and times; the transcript went to storage.
    assert transcript not in graph_dump(platform)
    assert postgres_hits(platform, "storage", transcript)
    # The request id travelled with the hop to storage (JSON logs, both services).
    logs = platform.state_dir / "logs"
    assert request_id in (logs / "context-graph.log").read_text()
    assert request_id in (logs / "storage.log").read_text()


def test_profile_and_dashboard_read(platform: Platform, http: httpx.Client):
    pid = "bob"
    person = platform.person_headers(pid)
    empty = ok(http.get(f"{platform.context}/profile/{pid}",
                        headers={**person, "x-test-role": "admin"}))
    assert empty["profile"] is None
    profile = {"locale": "en-GB", "language": "en", "voice": {"wakeword": "hey unison"},
               "dashboard": {"preferences": {"layout": "grid"}},
               "auth": {"session_secret": "s3"}}
    assert ok(http.post(f"{platform.context}/profile/{pid}", headers=person,
                        json={"profile": profile}))["person_id"] == pid
    dashboard = {"cards": [{"id": "weather"}, "not-a-card", {"id": "calendar"}],
                 "preferences": {"theme": "dark"}}
    assert ok(http.post(f"{platform.context}/dashboard/{pid}", headers=person,
                        json={"dashboard": dashboard}))["person_id"] == pid
    refused = http.post(f"{platform.context}/dashboard/{pid}", headers=person,
                        json={"dashboard": {"cards": "nope"}})
    assert refused.json()["ok"] is False
    assert refused.json()["error"] == "invalid-dashboard-cards"

    # The read the orchestrator makes: profile + dashboard.
    read = ok(http.get(f"{platform.context}/profile/{pid}", headers=person))
    assert read["profile"]["unison_id"] == pid
    assert read["profile"]["locale"] == "en-GB"
    assert read["profile"]["language"] == "en"
    assert read["profile"]["voice"]["wakeword"] == "hey unison"
    assert read["profile"]["dashboard"]["preferences"] == {"layout": "grid"}
    assert read["profile_redacted"]["locale"] == "en-GB"
    assert read["profile_redacted"]["auth"] != profile["auth"]
    assert isinstance(read["updated_at"], float)
    board = ok(http.get(f"{platform.context}/dashboard/{pid}", headers=person))
    assert board["dashboard"]["cards"] == [{"id": "weather"}, {"id": "calendar"}]
    assert board["dashboard"]["preferences"] == {"theme": "dark"}
    assert isinstance(board["updated_at"], float)
    # Another person's profile is not readable with bob's token.
    assert http.get(f"{platform.context}/profile/alice", headers=person).status_code == 403


def test_write_behind_last_interaction_and_export(platform: Platform, http: httpx.Client):
    pid = "carol"
    person = platform.person_headers(pid)
    key = f"{pid}:profile:last_interaction"
    value = {"ts": 1796300000.5, "channel": "voice", "intent": "weather"}
    put = ok(http.post(f"{platform.context}/kv/put", headers=person,
                       json={"person_id": pid, "tier": "B", "items": {key: value}}))
    assert put["count"] == 1
    mismatch = http.post(f"{platform.context}/kv/put", headers=person,
                         json={"person_id": pid, "tier": "B",
                               "items": {f"{pid}:prefs:x": 1}}).json()
    assert mismatch["ok"] is False and mismatch["error"] == "tier-mismatch"
    foreign = http.post(f"{platform.context}/kv/put", headers=person,
                        json={"person_id": pid, "tier": "A",
                              "items": {"alice:profile:x": 1}}).json()
    assert foreign["ok"] is False and foreign["error"] == "invalid-namespace"
    assert ok(http.post(f"{platform.context}/kv/get", headers=person,
                        json={"keys": [key]}))["values"] == {key: value}
    exported = ok(http.post(f"{platform.context}/profile.export", headers=person,
                            json={"person_id": pid}))
    assert exported["person_id"] == pid
    assert exported["items"] == {key: value}
    assert isinstance(exported["exported_at"], float)
    unique = marker("interaction")
    ok(http.post(f"{platform.context}/kv/put", headers=person,
                 json={"person_id": pid, "tier": "B",
                       "items": {key: {**value, "note": unique}}}))
    assert ok(http.post(f"{platform.context}/profile.export", headers=person,
                        json={"person_id": pid}))["items"][key]["note"] == unique
    # Durable and sealed: one PostgreSQL row under the key, no plain value in any column.
    rows = platform.postgres.psql(
        f"SELECT tier FROM context_kv WHERE key = '{key}'",
        database="context")
    assert rows.split() == ["B"]
    assert postgres_hits(platform, "context", unique) == []


def test_workflow_design_and_recall(platform: Platform, http: httpx.Client):
    """The orchestrator stores a designed workflow with `/kv/set` (a service call that
    names no person), logs the design as a trace for the person, and later recalls it:
    the trace by tag, then the workflow by its key."""
    pid = "dave"
    person = platform.person_headers(pid)
    service = platform.service_headers()
    workflow_key = f"workflow:{marker('wf')}"
    city = marker("city")
    workflow = {"name": "morning briefing", "steps": [
        {"tool": "weather.today", "args": {"city": city}},
        {"tool": "calendar.list", "args": {"range": "today"}}]}
    assert ok(http.post(f"{platform.context}/kv/set", headers=service,
                        json={"key": workflow_key, "value": workflow}))["event_id"]
    tag = marker("workflow")
    good(http.post(f"{platform.context_graph}/traces/replay", headers=person,
                   json={"user_id": pid, "trace": [
                       {"event": "workflow_designed",
                        "metadata": {"tags": ["workflow", tag],
                                     "workflow_key": workflow_key}}]}))

    recalled = good(http.post(f"{platform.context_graph}/traces/search", headers=person,
                              json={"user_id": pid, "tags": [tag]}))["traces"]
    assert len(recalled) == 1 and recalled[0]["event"] == "workflow_designed"
    key = recalled[0]["metadata"]["workflow_key"]
    # The orchestrator's own service token, acting for the person, finds the same trace:
    # the graph service reads storage in the person's scope, not the tenant's.
    acting = platform.service_headers(scopes=("persons:act",))
    assert good(http.post(f"{platform.context_graph}/traces/search", headers=acting,
                          json={"user_id": pid, "tags": [tag]}))["traces"] == recalled
    got = ok(http.post(f"{platform.context}/kv/get", headers=service,
                       json={"keys": [key, f"{key}:missing"]}))
    assert got["values"] == {key: workflow, f"{key}:missing": None}
    # Durable: the record is a row of the context database (sealed, so its key is
    # what can be found in it), and a second write replaces it.
    workflow["steps"].append({"tool": "news.headlines", "args": {}})
    ok(http.post(f"{platform.context}/kv/set", headers=service,
                 json={"key": workflow_key, "value": workflow}))
    assert ok(http.post(f"{platform.context}/kv/get", headers=service,
                        json={"keys": [key]}))["values"][key]["steps"][-1]["tool"] == \
        "news.headlines"
    rows = platform.postgres.psql(
        f"SELECT count(*) FROM context_kv WHERE key = '{workflow_key}'",
        database="context")
    assert rows.split() == ["1"]
    assert postgres_hits(platform, "context", city) == []  # sealed at rest


def test_payment_token_is_never_plain_text(platform: Platform, http: httpx.Client):
    pid, instrument = "erin", "card-visa-1"
    person = platform.person_headers(pid)
    token = marker("tok")
    vault_key = f"payment:{pid}:{instrument}"
    ok(http.put(f"{platform.storage}/kv/vault/{vault_key}", headers=person,
                json={"value": {"token": token, "provider": "stripe"}}))
    read = ok(http.get(f"{platform.storage}/kv/vault/{vault_key}", headers=person))
    assert read["value"]["token"] == token
    # Another person of the household does not read it.
    other = ok(http.get(f"{platform.storage}/kv/vault/{vault_key}",
                        headers=platform.person_headers("frank")))
    assert other["value"] is None

    # The profile keeps the instrument's display fields and the vault key, never the token.
    instr = {"instrument_id": instrument, "provider": "stripe", "kind": "card",
             "display_name": "Visa", "brand": "visa", "last4": "4242",
             "expiry": "12/30", "vault_key": vault_key, "nickname": "dropped"}
    ok(http.post(f"{platform.context}/profile/{pid}", headers=person,
                 json={"profile": {"payments": {"instruments": [instr]}}}))
    kept = ok(http.get(f"{platform.context}/profile/{pid}", headers=person))
    assert kept["profile"]["payments"]["instruments"] == \
        [{k: v for k, v in instr.items() if k != "nickname"}]
    refused = http.post(f"{platform.context}/profile/{pid}", headers=person,
                        json={"profile": {"payments": {"instruments": [
                            {**instr, "token": token}]}}}).json()
    assert refused["ok"] is False and refused["error"] == "invalid-profile"

    # The orchestrator logs the new instrument (ids only) for the person.
    good(http.post(f"{platform.context_graph}/traces/replay", headers=person,
                   json={"user_id": pid, "trace": [
                       {"event": "payment_instrument_added",
                        "metadata": {"tags": ["payments"], "instrument_id": instrument,
                                     "vault_key": vault_key}}]}))

    # Plain-text controls: the scans do find values that are stored in the clear.
    control = marker("plain")
    ok(http.put(f"{platform.storage}/kv/notes/{control}", headers=person,
                json={"value": {"note": control}}))
    good(http.put(f"{platform.storage}/storage/cache/{control}", headers=person,
                  json={"key": control, "value": {"note": control}, "ttl": 600}))
    ok(http.post(f"{platform.context}/conversation/{pid}/s-{control}", headers=person,
                 json={"messages": [{"role": "user", "content": control}],
                       "response": {}, "summary": ""}))
    assert postgres_hits(platform, "storage", control)
    assert postgres_hits(platform, "context", control)
    assert redis_hits(platform, control)
    assert vault_key in str(kept)  # the vault key is an id, held in the clear by design

    assert postgres_hits(platform, "storage", token) == []
    assert postgres_hits(platform, "context", token) == []
    assert redis_hits(platform, token) == []
    graph = graph_dump(platform)
    assert f"'{pid}'" in graph  # the graph was read: the person's node is there
    assert token not in graph
    logs = [p for p in platform.state_dir.rglob("*")
            if p.is_file() and (p.suffix in (".log", ".out") or "log" in p.parent.name)]
    assert any(p.name == "storage.log" for p in logs)
    assert [str(p) for p in logs if token.encode() in p.read_bytes()] == []
    # Nor in any other file of the platform: data files, WAL, objects.
    assert files_holding(platform.state_dir, token) == []
    assert files_holding(platform.state_dir, control)  # a plain value is found on disk


def test_intent_produces_a_storage_object_found_from_the_graph(platform: Platform,
                                                                http: httpx.Client):
    pid = "alice"
    person = platform.person_headers(pid)
    payload = f"itinerary {marker('doc')}".encode()
    obj = ok(http.post(f"{platform.storage}/objects", headers=person,
                       json={"content_b64": base64.b64encode(payload).decode(),
                             "content_type": "text/plain"}))
    assert obj["size_bytes"] == len(payload)
    assert "/" not in obj["id"]  # an id, never a server path
    intent_id, agent_id, resource_id = marker("intent"), marker("agent"), marker("res")

    # The orchestrator's legacy call: created, requested by the person, handled (routed).
    created = ok(http.post(f"{platform.intent_graph}/graph/intent", headers=person,
                           json={"intent_id": intent_id, "person_id": pid,
                                 "agent_id": agent_id, "name": "plan_trip",
                                 "rel_type": "HANDLES"}))
    assert created["intent_id"] == intent_id
    intent = good(http.get(f"{platform.intent_graph}/v1/intents/{intent_id}",
                           headers=person))
    assert intent["state"] == "routed" and intent["type"] == "plan_trip"
    assert intent["person_id"] == pid
    assert [h["id"] for h in intent["handlers"]] == [agent_id]
    good(http.post(f"{platform.intent_graph}/v1/intents/{intent_id}/transitions",
                   headers=person, json={"state": "running"}))
    good(http.post(f"{platform.intent_graph}/v1/intents/{intent_id}/produced",
                   headers=person, json={"resource_id": resource_id,
                                         "storage_id": obj["id"]}))
    done = good(http.post(f"{platform.intent_graph}/v1/intents/{intent_id}/transitions",
                          headers=person, json={"state": "completed"}))
    assert done["state"] == "completed"
    bad_move = http.post(f"{platform.intent_graph}/v1/intents/{intent_id}/transitions",
                         headers=person, json={"state": "running"})
    assert bad_move.status_code == 409

    # From the person, through the intent, to what it produced, and on to storage.
    around = good(http.get(f"{platform.intent_graph}/v1/nodes/{pid}/neighbours",
                           headers=person, params={"depth": 2, "labels": "Resource"}))
    resources = [i["node"] for i in around["items"] if i["node"]["id"] == resource_id]
    assert len(resources) == 1
    assert resources[0]["props"]["storage_id"] == obj["id"]
    produced = good(http.get(f"{platform.intent_graph}/v1/nodes/{intent_id}/neighbours",
                             headers=person, params={"direction": "out",
                                                     "types": "PRODUCED"}))
    assert [i["node"]["id"] for i in produced["items"]] == [resource_id]
    path = good(http.get(f"{platform.intent_graph}/v1/paths/shortest", headers=person,
                         params={"from": pid, "to": resource_id, "max_depth": 3}))
    assert path["length"] == 2
    storage_id = produced["items"][0]["node"]["props"]["storage_id"]
    fetched = ok(http.get(f"{platform.storage}/objects/{storage_id}", headers=person))
    assert base64.b64decode(fetched["content_b64"]) == payload
    assert fetched["person_id"] == pid
    ranked = good(http.get(f"{platform.intent_graph}/v1/routing/candidates",
                           headers=person, params={"intent_type": "plan_trip",
                                                   "person_id": pid}))
    assert ranked["candidates"][0]["id"] == agent_id
    assert ranked["candidates"][0]["completed"] == 1
    # The graph holds the reference, never the payload.
    assert payload.decode() not in graph_dump(platform)


def test_cortex_prime_agent_session(platform: Platform, http: httpx.Client):
    pid = "grace"
    person = platform.person_headers(pid)
    base = f"{platform.storage}/storage"
    session = good(http.post(f"{base}/sessions", headers=person,
                             json={"agent_name": "planner",
                                   "metadata": {"channel": "voice"}}))
    sid = session["id"]
    assert sid.startswith("session_") and session["user_id"] == pid
    assert session["status"] == "active"
    for role, content in (("user", "plan my day"), ("assistant", "here is a plan"),
                          ("tool", "calendar: 2 events")):
        msg = good(http.post(f"{base}/history", headers=person,
                             json={"session_id": sid, "role": role, "content": content}))
        assert msg["id"].startswith("msg_") and msg["session_id"] == sid
    history = good(http.get(f"{base}/history", headers=person,
                            params={"session_id": sid}))
    assert [(m["role"], m["content"]) for m in history] == [
        ("user", "plan my day"), ("assistant", "here is a plan"),
        ("tool", "calendar: 2 events")]
    only_user = good(http.get(f"{base}/history", headers=person,
                              params={"session_id": sid, "role": "user"}))
    assert [m["content"] for m in only_user] == ["plan my day"]

    assert good(http.get(f"{base}/state/{sid}", headers=person))["data"] == {}
    good(http.put(f"{base}/state/{sid}", headers=person, json={"data": {"step": 1}}))
    good(http.put(f"{base}/state/{sid}", headers=person,
                  json={"data": {"step": 2, "plan": ["gym", "work"]}}))
    state = good(http.get(f"{base}/state/{sid}", headers=person))
    assert state["session_id"] == sid
    assert state["data"] == {"step": 2, "plan": ["gym", "work"]}

    content = b"# Plan\n- gym\n- work\n"
    artifact = good(http.post(f"{base}/artifacts", headers=person, json={
        "session_id": sid, "name": "plan.md", "type": "document", "path": "/out/plan.md",
        "size": 0, "metadata": {"format": "markdown"},
        "content_b64": base64.b64encode(content).decode()}))
    assert artifact["id"].startswith("artifact_")
    assert artifact["size"] == len(content)
    listed = good(http.get(f"{base}/artifacts", headers=person, params={"session_id": sid}))
    assert [a["id"] for a in listed] == [artifact["id"]]
    got = good(http.get(f"{base}/artifacts/{artifact['id']}", headers=person))
    assert got["name"] == "plan.md" and got["metadata"] == {"format": "markdown"}

    again = good(http.get(f"{base}/sessions/{sid}", headers=person))
    assert again["message_count"] == 3
    mine = good(http.get(f"{base}/sessions", headers=person,
                         params={"agent_name": "planner"}))
    assert [s["id"] for s in mine] == [sid]
    # Another person sees none of it.
    stranger = platform.person_headers("heidi")
    assert http.get(f"{base}/sessions/{sid}", headers=stranger).status_code == 404
    assert good(http.get(f"{base}/history", headers=stranger,
                         params={"session_id": sid})) == []
    assert http.post(f"{base}/history", headers=stranger,
                     json={"session_id": sid, "role": "user",
                           "content": "x"}).status_code == 404
    # Deleting the session cascades.
    deleted = good(http.delete(f"{base}/sessions/{sid}", headers=person))
    assert deleted == {"status": "deleted", "session_id": sid}
    assert good(http.get(f"{base}/history", headers=person,
                         params={"session_id": sid})) == []
    assert http.get(f"{base}/artifacts/{artifact['id']}",
                    headers=person).status_code == 404
