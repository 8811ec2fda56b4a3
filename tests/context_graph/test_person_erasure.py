"""Person erasure and export on context-graph: two persons of one household and one of
another, written through the legacy routes and /v1, caches warmed; one erased by an
operator; then every node and relationship property (over Bolt) and every Redis key and
value is scanned for the erased person's id and markers, shared nodes stay, the others
are still served. The export gives back the person's nodes and relationships."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

import orjson
import pytest
from neo4j import AsyncGraphDatabase
from redis.asyncio import Redis

from unison_devstack.tokens import mint_token
from unison_shared.graph_api.persons.model import names_person

from .. import graph_servers
from ..graph_servers import TEST_SECRET

DATABASE = "context_test"
AUDIENCES = ["context-graph", "intent-graph", "storage"]


def service_headers(household: str, scopes: list[str]) -> dict[str, str]:
    """A service token of the household: an operator with persons:act persons:admin."""
    token = mint_token(TEST_SECRET, person_id=None, household_id=household,
                       sub="service-operator", type="service", roles=["service"],
                       audience=AUDIENCES, scopes=scopes)
    return {"Authorization": f"Bearer {token}"}


def operator(household: str) -> dict[str, str]:
    return service_headers(household, ["persons:act", "persons:admin"])


def marker() -> str:
    return "mk" + uuid.uuid4().hex[:16]


async def graph_dump(database: str) -> str:
    """Every node's labels and properties and every relationship's type and properties
    of the test database, over Bolt."""
    server = graph_servers.arcadedb()
    parts = []
    async with AsyncGraphDatabase.driver(server.bolt_url,
                                         auth=("root", server.password)) as driver:
        nodes = await driver.execute_query(
            "MATCH (n) RETURN labels(n) AS l, properties(n) AS p", database_=database)
        parts += [f"node {r['l']} {r['p']}" for r in nodes.records]
        rels = await driver.execute_query(
            "MATCH ()-[r]->() RETURN type(r) AS t, properties(r) AS p", database_=database)
        parts += [f"rel {r['t']} {r['p']}" for r in rels.records]
    assert parts  # the dump sees the graph
    return "\n".join(parts)


async def redis_hits(needle: str) -> list[str]:
    """Every Redis key whose name or (string) value holds `needle`."""
    hits, raw, seen = [], needle.encode(), 0
    client = Redis.from_url(graph_servers.redis().url)
    try:
        async for key in client.scan_iter(count=500):
            seen += 1
            value = await client.get(key) if await client.type(key) == b"string" else b""
            if raw in key or raw in (value or b""):
                hits.append(key.decode(errors="replace"))
    finally:
        await client.aclose()
    assert seen  # the scan sees the cache
    return hits


async def export_lines(client: Any, pid: str, headers: dict[str, str],
                       secrets: bool = False) -> dict[str, list[dict[str, Any]]]:
    resp = await client.get(f"/v1/admin/persons/{pid}/export", headers=headers,
                            params={"include_secrets": str(secrets).lower()})
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/x-ndjson")
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for raw in resp.content.splitlines():
        line = orjson.loads(raw)
        assert set(line) == {"domain", "record"}
        out[line["domain"]].append(line["record"])
    return out


def ok(resp: Any, status: int = 200) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json()


async def populate(client: Any, who: Any, shared: dict[str, str]) -> dict[str, Any]:
    """The person's context, traces, actuation, capabilities, a device and a resource,
    and edges to the household's shared nodes; then reads that fill the caches."""
    pid, h, mark = who.person_id, who.headers, marker()
    state = ok(await client.post("/context/update", headers=h, json={
        "user_id": pid, "session_id": f"sess-{mark}",
        "dimensions": [{"name": "mood", "value": f"calm-{mark}"}],
        "preferences": {"theme": mark}}))["state"]
    ok(await client.post("/traces/replay", headers=h, json={"user_id": pid, "trace": [
        {"event": "turn", "metadata": {"tags": [mark], "text": f"hello-{mark}"}}]}))
    ok(await client.post("/telemetry/actuation", headers=h, json={
        "action_id": f"act-{mark}", "person_id": pid, "correlation_id": mark,
        "intent": "lights", "target": "lamp", "risk_level": "low",
        "actuation_status": "ok"}))
    ok(await client.post(f"/capabilities?person_id={pid}", headers=h,
                         json={"modalities": {"displays": [{"id": f"disp-{mark}"}]}}))
    ok(await client.post("/v1/nodes/batch", headers=h, json={"nodes": [
        {"id": f"dev-{mark}", "labels": ["Device"], "props": {"kind": "phone"}},
        {"id": f"res-{mark}", "labels": ["Resource"],
         "props": {"storage_id": f"kv:docs/{mark}", "person_id": pid}}]}))
    rels = [(pid, "OWNS", f"dev-{mark}"), (pid, "HAS_RESOURCE", f"res-{mark}"),
            (pid, "MEMBER_OF", shared["workspace"]), (pid, "HAS_RESOURCE", shared["resource"]),
            (shared["agent"], "HANDLES", f"sess-{mark}")]
    ok(await client.post("/v1/relationships/batch", headers=h, json={"relationships": [
        {"start_id": s, "type": t, "end_id": e} for s, t, e in rels]}))
    # A shared node and a shared relationship naming the person in a property: the
    # property goes, not the node or the relationship.
    ok(await client.patch(f"/v1/nodes/{shared['skill']}", headers=h,
                          json={"props": {f"{mark}_id": pid}}))
    ok(await client.post("/v1/relationships", headers=h, json={
        "start_id": shared["agent"], "type": "ALLOWED_BY", "end_id": shared["skill"],
        "props": {f"{mark}_id": pid}}))
    # Reads that fill context:cache and graph:hot:context.
    assert ok(await client.post("/context/query", headers=h, json={"user_id": pid}))
    assert ok(await client.get(f"/capabilities?person_id={pid}", headers=h))["manifest"]
    ok(await client.get(f"/v1/persons/{pid}/devices", headers=h))
    ok(await client.get(f"/v1/nodes/{pid}/subgraph", headers=h, params={"depth": 2}))
    return {"mark": mark, "state": state, "rels": rels}


async def household(client: Any, who: Any) -> dict[str, str]:
    mark = marker()
    shared = {"workspace": f"ws-{mark}", "resource": f"shared-{mark}",
              "agent": f"agent-{mark}", "skill": f"skill-{mark}"}
    ok(await client.post("/v1/nodes/batch", headers=who.headers, json={"nodes": [
        {"id": shared["workspace"], "labels": ["Workspace"]},
        {"id": shared["resource"], "labels": ["Resource"]},
        {"id": shared["agent"], "labels": ["Agent"]},
        {"id": shared["skill"], "labels": ["Skill"]}]}))
    ok(await client.post("/v1/relationships", headers=who.headers, json={
        "start_id": shared["workspace"], "type": "HAS_RESOURCE",
        "end_id": shared["resource"]}))
    return shared


async def test_erasure_removes_the_person_and_only_what_they_own(client, make_caller):
    alice = make_caller()
    sister = make_caller(household_id=alice.household_id)
    other = make_caller()
    shared = await household(client, alice)
    written = {alice.person_id: await populate(client, alice, shared),
               sister.person_id: await populate(client, sister, shared),
               other.person_id: await populate(client, other, await household(client, other))}
    pid, mark = alice.person_id, written[alice.person_id]["mark"]
    before = await graph_dump(DATABASE)
    assert pid in before and mark in before
    assert await redis_hits(pid)  # the cached state names the person

    for headers in (alice.headers, sister.headers,
                    service_headers(alice.household_id, ["persons:act"])):
        resp = await client.post(f"/v1/admin/persons/{pid}/erasure", headers=headers)
        assert resp.status_code == 403, resp.text

    receipt = ok(await client.post(f"/v1/admin/persons/{pid}/erasure",
                                   headers=operator(alice.household_id)))
    assert receipt["service"] == "context-graph"
    assert (receipt["tenant_id"], receipt["person_id"]) == (alice.household_id, pid)
    # Person, session, trace, actuation, capabilities, device, resource.
    assert receipt["removed"]["nodes"] == 7
    assert receipt["removed"]["relationships"] == 9
    assert receipt["removed"]["properties"] == 2  # on the skill and agent->skill
    assert receipt["keys_destroyed"] == 0 and receipt["caches_purged"] > 0

    after = await graph_dump(DATABASE)
    for needle in (pid, mark):
        assert needle not in after, needle
        assert await redis_hits(needle) == [], needle
    for survivor in (sister, other):
        assert written[survivor.person_id]["mark"] in after
    for node_id in shared.values():  # the household's nodes stay
        assert ok(await client.get(f"/v1/nodes/{node_id}", headers=sister.headers))
    allowed = ok(await client.get(
        f"/v1/relationships/{shared['agent']}/ALLOWED_BY/{shared['skill']}",
        headers=sister.headers))
    assert allowed["props"] == {f"{written[sister.person_id]['mark']}_id": sister.person_id}
    ws = ok(await client.get(f"/v1/nodes/{shared['workspace']}/neighbours",
                             headers=sister.headers))
    assert {n["node"]["id"] for n in ws["items"]} == {shared["resource"], sister.person_id}
    for survivor in (sister, other):
        spid, h = survivor.person_id, survivor.headers
        got = ok(await client.post("/context/query", headers=h, json={"user_id": spid}))
        assert got["state"] == written[spid]["state"]
        devices = ok(await client.get(f"/v1/persons/{spid}/devices", headers=h))["items"]
        assert [d["id"] for d in devices] == [f"dev-{written[spid]['mark']}"]
        traces = ok(await client.post("/traces/search", headers=h, json={
            "user_id": spid, "tags": [written[spid]["mark"]]}))["traces"]
        assert len(traces) == 1
    resp = await client.post("/context/query", headers=alice.headers, json={"user_id": pid})
    assert resp.status_code == 404

    again = ok(await client.post(f"/v1/admin/persons/{pid}/erasure",
                                 headers=operator(alice.household_id)))
    assert again["removed"] == {"nodes": 0, "relationships": 0, "properties": 0}
    assert (again["keys_destroyed"], again["caches_purged"]) == (0, 0)


async def test_erasure_by_an_operator_of_another_household_touches_nothing(client,
                                                                           make_caller):
    alice, stranger = make_caller(), make_caller()
    written = await populate(client, alice, await household(client, alice))
    receipt = ok(await client.post(f"/v1/admin/persons/{alice.person_id}/erasure",
                                   headers=operator(stranger.household_id)))
    assert receipt["tenant_id"] == stranger.household_id
    assert receipt["removed"] == {"nodes": 0, "relationships": 0, "properties": 0}
    got = ok(await client.post("/context/query", headers=alice.headers,
                               json={"user_id": alice.person_id}))
    assert got["state"] == written["state"]


async def test_export_gives_the_persons_nodes_and_relationships(client, make_caller):
    alice = make_caller()
    sister = make_caller(household_id=alice.household_id)
    shared = await household(client, alice)
    written = await populate(client, alice, shared)
    await populate(client, sister, shared)
    pid, mark = alice.person_id, written["mark"]

    got = await export_lines(client, pid, operator(alice.household_id))
    assert set(got) == {"nodes", "relationships"}
    nodes = {n["properties"]["id"]: n for n in got["nodes"]}
    assert nodes[pid]["labels"] == ["Person"]
    device = nodes[f"dev-{mark}"]
    assert device["labels"] == ["Device"]
    assert (device["properties"]["kind"], device["properties"]["tenant"]) == (
        "phone", alice.household_id)
    assert nodes[f"res-{mark}"]["properties"]["storage_id"] == f"kv:docs/{mark}"
    assert nodes[f"sess-{mark}"]["labels"] == ["Session"]
    assert nodes[f"actuation:act-{mark}"]["properties"]["type"] == "actuation"
    assert nodes[f"capabilities:{pid}"]["properties"]["type"] == "capabilities"
    traces = [n for n in nodes.values() if n["properties"].get("type") == "trace"]
    assert len(traces) == 1 and traces[0]["properties"]["kind"] == "turn"
    assert nodes[shared["skill"]]["properties"][f"{mark}_id"] == pid  # names the person
    assert set(nodes) == {pid, f"dev-{mark}", f"res-{mark}", f"sess-{mark}",
                          f"actuation:act-{mark}", f"capabilities:{pid}",
                          traces[0]["properties"]["id"], shared["skill"]}
    rels = {(r["start_id"], r["type"], r["end_id"]) for r in got["relationships"]}
    assert set(written["rels"]) <= rels
    assert (f"sess-{mark}", "FOR_PERSON", pid) in rels
    (allowed,) = [r for r in got["relationships"] if r["type"] == "ALLOWED_BY"]
    assert allowed["properties"] == {f"{mark}_id": pid}  # only what names the person
    assert sister.person_id not in orjson.dumps(got).decode()

    assert await export_lines(client, pid, alice.headers, secrets=True) == got
    refused = await client.get(f"/v1/admin/persons/{pid}/export",
                               headers=operator(alice.household_id),
                               params={"include_secrets": "true"})
    assert refused.status_code == 403 and "own token" in refused.text
    for headers in (sister.headers, service_headers(alice.household_id, ["persons:act"])):
        resp = await client.get(f"/v1/admin/persons/{pid}/export", headers=headers)
        assert resp.status_code == 403, resp.text


async def test_erasure_with_redis_away_is_503_before_the_graph_is_touched(
        client, cg_settings_factory, make_caller):
    from unison_context_graph.main import create_app
    from unison_devstack.procs import free_port

    from ..graph_fixtures import client_for, running

    alice = make_caller()
    written = await populate(client, alice, await household(client, alice))
    settings = cg_settings_factory(redis_url=f"redis://127.0.0.1:{free_port()}")
    async with running(create_app(settings)) as app, client_for(app) as away:
        resp = await away.post(f"/v1/admin/persons/{alice.person_id}/erasure",
                               headers=operator(alice.household_id))
        assert resp.status_code == 503, resp.text
        assert "cache-unavailable" in resp.json()["type"] and resp.headers["retry-after"]
        devices = ok(await away.get(f"/v1/persons/{alice.person_id}/devices",
                                    headers=alice.headers))["items"]
        assert [d["id"] for d in devices] == [f"dev-{written['mark']}"]  # untouched
    receipt = ok(await client.post(f"/v1/admin/persons/{alice.person_id}/erasure",
                                   headers=operator(alice.household_id)))
    assert receipt["removed"]["nodes"] == 7


async def test_a_person_with_more_nodes_than_a_batch(client, make_caller):
    """1200 trace events: collection, export and deletion run in batches of 500."""
    alice = make_caller()
    pid, h = alice.person_id, alice.headers
    for part in range(2):
        ok(await client.post("/traces/replay", headers=h, json={"user_id": pid, "trace": [
            {"event": "turn", "metadata": {"n": part * 600 + i}} for i in range(600)]}))
    got = await export_lines(client, pid, operator(alice.household_id))
    assert len(got["nodes"]) == 1201 and len(got["relationships"]) == 1200
    assert len({n["properties"]["id"] for n in got["nodes"]}) == 1201
    receipt = ok(await client.post(f"/v1/admin/persons/{pid}/erasure",
                                   headers=operator(alice.household_id)))
    assert receipt["removed"] == {"nodes": 1201, "relationships": 1200, "properties": 0}
    assert pid not in await graph_dump(DATABASE)


@pytest.mark.parametrize(("value", "named"), [
    ("p-1", True), ("capabilities:p-1", True), ("kv:context-graph.traces/p-1:e7", True),
    ("p-10", False), ("xp-1", False), ("capabilities:p-10", False), ("p-1.phone", False),
    ("kv:ns/p-1x", False), (17, False), (None, False)])
def test_what_names_a_person(value, named):
    """The id itself or a `:`/`/` segment of a composite id; never a longer id."""
    assert names_person(value, "p-1") is named
