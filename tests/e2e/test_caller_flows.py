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
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from neo4j import GraphDatabase

from unison_devstack.graph_stack import GRAPH_SERVICES
from unison_devstack.postgres import PostgresServer
from unison_devstack.procs import free_port, port_open
from unison_devstack.tokens import mint_token

pytestmark = pytest.mark.slow

CLI = [sys.executable, "-m", "unison_devstack.cli"]
AUDIENCE = "storage,context,context-graph,intent-graph"
HOUSEHOLD = "home"
PORT_VARS = ("DEVSTACK_POSTGRES_PORT", "DEVSTACK_REDIS_PORT", "DEVSTACK_STORAGE_PORT",
             "DEVSTACK_S3_PORT", "DEVSTACK_CONTEXT_PORT", "DEVSTACK_CONTEXT_GRAPH_PORT",
             "DEVSTACK_INTENT_GRAPH_PORT", "DEVSTACK_ARCADEDB_HTTP_PORT",
             "DEVSTACK_BOLT_PORT")
GRAPH_DATABASES = tuple(database for _name, _pkg, database, _var, _port in GRAPH_SERVICES)
# Column types whose contents could hold a token as text or bytes.
SCANNED_TYPES = ("text", "character varying", "character", "json", "jsonb", "bytea",
                 "ARRAY")


@dataclass
class Platform:
    env: dict[str, str]
    state_dir: Path
    storage: str
    context: str
    context_graph: str
    intent_graph: str

    def port(self, name: str) -> int:
        return int(self.env[name])

    def person_headers(self, person: str) -> dict[str, str]:
        """A person's token, minted by the runner's CLI as a developer would."""
        token = subprocess.run(
            [*CLI, "token", "--person", person, "--household", HOUSEHOLD,
             "--audience", AUDIENCE],
            env=self.env, capture_output=True, text=True, check=True, timeout=60,
        ).stdout.strip()
        return {"Authorization": f"Bearer {token}"}

    def service_headers(self, name: str = "orchestrator") -> dict[str, str]:
        """An HS256 service token of the household, signed with the stack's secret."""
        secret = (self.state_dir / "secrets" / "hs256").read_text().strip()
        token = mint_token(secret, person_id=None, household_id=HOUSEHOLD,
                           audience=AUDIENCE.split(","), sub=f"service-{name}",
                           type="service", roles=["service"])
        return {"Authorization": f"Bearer {token}"}

    @property
    def postgres(self) -> PostgresServer:
        return PostgresServer(self.state_dir / "postgres", self.port("DEVSTACK_POSTGRES_PORT"))

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.port('DEVSTACK_REDIS_PORT')}/0"

    @property
    def bolt_url(self) -> str:
        return f"bolt://127.0.0.1:{self.port('DEVSTACK_BOLT_PORT')}"


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    state_dir = tmp_path_factory.mktemp("e2e") / "state"
    env = {**os.environ, "DEVSTACK_STATE_DIR": str(state_dir),
           "DEVSTACK_OBJECT_BACKEND": "fs",
           "UNISON_AUTH_ACCEPT_SERVICE_TOKENS": "true",
           **{name: str(free_port()) for name in PORT_VARS}}
    env.pop("UNISON_AUTH_HS256_SECRET", None)
    try:
        up = subprocess.run([*CLI, "up"], env=env, capture_output=True, text=True,
                            timeout=300)
        assert up.returncode == 0, up.stderr[-3000:]
        plat = Platform(
            env=env, state_dir=state_dir,
            storage=f"http://127.0.0.1:{env['DEVSTACK_STORAGE_PORT']}",
            context=f"http://127.0.0.1:{env['DEVSTACK_CONTEXT_PORT']}",
            context_graph=f"http://127.0.0.1:{env['DEVSTACK_CONTEXT_GRAPH_PORT']}",
            intent_graph=f"http://127.0.0.1:{env['DEVSTACK_INTENT_GRAPH_PORT']}",
        )
        for url in (plat.storage, plat.context, plat.context_graph, plat.intent_graph):
            assert url in up.stdout
        yield plat
    finally:
        down = subprocess.run([*CLI, "down"], env=env, capture_output=True, text=True,
                              timeout=120)
    assert down.returncode == 0, down.stderr[-3000:]
    for name in ("DEVSTACK_STORAGE_PORT", "DEVSTACK_CONTEXT_PORT",
                 "DEVSTACK_CONTEXT_GRAPH_PORT", "DEVSTACK_INTENT_GRAPH_PORT",
                 "DEVSTACK_POSTGRES_PORT", "DEVSTACK_REDIS_PORT", "DEVSTACK_BOLT_PORT"):
        assert not port_open(int(env[name])), name


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as client:
        yield client


def ok(resp: httpx.Response) -> dict[str, Any]:
    """A legacy 200 `{"ok": true, ...}` reply."""
    assert resp.status_code == 200, f"{resp.request.method} {resp.request.url}: {resp.text}"
    body: dict[str, Any] = resp.json()
    assert body.get("ok") is True, f"{resp.request.method} {resp.request.url}: {body}"
    return body


def good(resp: httpx.Response, status: int = 200) -> Any:
    assert resp.status_code == status, \
        f"{resp.request.method} {resp.request.url}: {resp.status_code} {resp.text}"
    return resp.json()


# --- where a value could end up: the scans -----------------------------------------


def postgres_hits(plat: Platform, database: str, needle: str) -> list[str]:
    """Every text, json(b), bytea and array column (all schemas, all rows, read as the
    superuser, so row-level security hides nothing) holding `needle`."""
    assert needle.replace("_", "").isalnum()  # safe to put in a literal
    pg = plat.postgres
    types = ", ".join(f"'{t}'" for t in SCANNED_TYPES)
    columns = pg.psql(
        "SELECT c.table_schema, c.table_name, c.column_name, c.data_type "
        "FROM information_schema.columns c JOIN information_schema.tables t "
        "  ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
        "WHERE t.table_type = 'BASE TABLE' "
        "  AND c.table_schema NOT IN ('pg_catalog', 'information_schema') "
        f"  AND c.data_type IN ({types})",
        database=database)
    selects = []
    for line in columns.splitlines():
        schema, table, column, data_type = line.split("|")
        where = (f"position(convert_to('{needle}', 'UTF8') in \"{column}\") > 0"
                 if data_type == "bytea" else
                 f"position('{needle}' in \"{column}\"::text) > 0")
        selects.append(f"SELECT '{schema}.{table}.{column}' FROM \"{schema}\".\"{table}\" "
                       f"WHERE {where}")
    assert len(selects) > 10, columns  # the scan sees the service's tables
    found = pg.psql(" UNION ".join(selects), database=database)
    return sorted(set(found.split()))


def redis_hits(plat: Platform, needle: str) -> list[str]:
    """Every key of every Redis database whose name or value holds `needle`."""
    raw = needle.encode()
    hits = []
    client = redis.Redis.from_url(plat.redis_url)
    try:
        databases = [int(name[2:]) for name in client.info("keyspace")]
    finally:
        client.close()
    for db in databases:
        conn = redis.Redis(host="127.0.0.1", port=plat.port("DEVSTACK_REDIS_PORT"), db=db)
        try:
            for key in conn.scan_iter(count=500):
                kind = conn.type(key)
                values: list[bytes] = []
                if kind == b"string":
                    values = [conn.get(key) or b""]
                elif kind == b"hash":
                    values = [b for kv in conn.hgetall(key).items() for b in kv]
                elif kind == b"list":
                    values = conn.lrange(key, 0, -1)
                elif kind == b"set":
                    values = list(conn.smembers(key))
                elif kind == b"zset":
                    values = conn.zrange(key, 0, -1)
                elif kind == b"stream":
                    values = [repr(conn.xrange(key)).encode()]
                if raw in key or any(raw in v for v in values):
                    hits.append(f"{db}:{key.decode(errors='replace')}")
        finally:
            conn.close()
    return hits


def graph_dump(plat: Platform) -> str:
    """Every node's labels and properties and every relationship's type and properties,
    of every graph database the runner made, over Bolt."""
    password = (plat.state_dir / "secrets" / "arcadedb").read_text().strip()
    parts = []
    with GraphDatabase.driver(plat.bolt_url, auth=("root", password)) as driver:
        for database in GRAPH_DATABASES:
            with driver.session(database=database) as session:
                for record in session.run("MATCH (n) RETURN labels(n) AS l, "
                                          "properties(n) AS p"):
                    parts.append(f"{database} node {record['l']} {record['p']}")
                for record in session.run("MATCH ()-[r]->() RETURN type(r) AS t, "
                                          "properties(r) AS p"):
                    parts.append(f"{database} rel {record['t']} {record['p']}")
    return "\n".join(parts)


def files_holding(root: Path, needle: str) -> list[str]:
    raw = needle.encode()
    found = []
    for path in root.rglob("*"):
        if path.is_symlink() or not path.is_file():
            continue
        try:
            data = path.read_bytes()
        except FileNotFoundError:  # a server removed it meanwhile (temp file, old WAL)
            continue
        if raw in data:
            found.append(str(path.relative_to(root)))
    return sorted(found)


def marker(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


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
