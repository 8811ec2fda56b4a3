"""Graph export and import on a real ArcadeDB (Bolt): nodes with several labels, lists,
relationships with properties, and the migration records, out to JSON lines and into a
second database whose own migrations already ran; then the second holds the same graph."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from neo4j import Driver

from tests import graph_servers
from unison_admin import graph_export
from unison_admin.targets import GraphConfig

SEED = [
    "CREATE (:UnisonMigration {scope: 'context', name: '0001_schema', applied_at: 1})",
    "CREATE (:UnisonMigration {scope: 'context', name: '0002_more', applied_at: 2})",
    "CREATE (p:Entity:Person {tenant: 'home', id: 'ann', created_at: 10}) "
    "CREATE (a:Entity:Agent {tenant: 'home', id: 'bot', tags: ['x', 'y'], score: 0.5}) "
    "CREATE (r:Entity:Resource {tenant: 'home', id: 'res', storage_id: 'obj-1', ok: true}) "
    "CREATE (t:Entity:Resource {tenant: 'home', id: 'twin'}) "
    "CREATE (u:Entity:Resource {tenant: 'home', id: 'twin2'}) "
    "CREATE (a)-[:HANDLES {tenant: 'home', created_at: 11}]->(p) "
    "CREATE (p)-[:HAS_RESOURCE {tenant: 'home', weight: 2}]->(r) "
    "CREATE (p)-[:HAS_RESOURCE {tenant: 'home', weight: 3}]->(t) "
    "CREATE (r)-[:NEXT]->(r)",
]


@pytest.fixture(scope="module")
def driver() -> Iterator[Driver]:
    server = graph_servers.arcadedb()
    cfg = GraphConfig(uri=server.bolt_url, user="root", password=server.password)
    with graph_export.connect(cfg) as drv:
        yield drv


def new_database(run: list[str]) -> str:
    name = f"bk{uuid.uuid4().hex[:10]}"
    graph_servers.arcadedb().ensure_database(name)
    server = graph_servers.arcadedb()
    with graph_export.connect(GraphConfig(uri=server.bolt_url, user="root",
                                          password=server.password)) as drv, \
            drv.session(database=name) as s:
        for statement in run:
            s.run(statement).consume()
    return name


def content(driver: Driver, database: str) -> dict[str, list[str]]:
    def node(labels: list[str], props: dict[str, Any]) -> str:
        return json.dumps([sorted(labels), props], sort_keys=True)

    with driver.session(database=database) as s:
        nodes = sorted(node(r["l"], r["p"]) for r in s.run(
            "MATCH (n) RETURN labels(n) AS l, properties(n) AS p"))
        rels = sorted(json.dumps([r["t"], r["p"], node(r["al"], r["ap"]),
                                  node(r["bl"], r["bp"])], sort_keys=True)
                      for r in s.run("MATCH (a)-[r]->(b) RETURN type(r) AS t, "
                                     "properties(r) AS p, labels(a) AS al, "
                                     "properties(a) AS ap, labels(b) AS bl, "
                                     "properties(b) AS bp"))
    return {"nodes": nodes, "relationships": rels}


def test_export_then_import_gives_the_same_graph(driver: Driver, tmp_path: Path):
    source = new_database(SEED)
    # The target's services already applied their migrations (other times).
    target = new_database(["CREATE (:UnisonMigration {scope: 'context', "
                           "name: '0001_schema', applied_at: 99})"])
    assert graph_export.counts(driver, source) == (7, 4)
    assert graph_export.data_nodes(driver, source) == 5
    assert graph_export.data_nodes(driver, target) == 0
    assert graph_export.migrations(driver, source) == {"context": ["0001_schema",
                                                                   "0002_more"]}
    ticks: list[int] = []
    written = graph_export.export_database(driver, source, tmp_path, ticks.append)
    assert written == {"nodes": 7, "relationships": 4, "skipped": 0} and sum(ticks) == 11
    nodes_file, rels_file = graph_export.node_files(tmp_path, source)
    lines = [json.loads(line) for line in nodes_file.read_text().splitlines()]
    agent = next(n for n in lines if n["properties"].get("id") == "bot")
    assert agent["labels"] == ["Agent", "Entity"]
    assert agent["properties"]["tags"] == ["x", "y"] and agent["properties"]["score"] == 0.5
    rel = next(json.loads(line) for line in rels_file.read_text().splitlines()
               if '"HANDLES"' in line)
    assert rel["start"] == agent["id"] and rel["start_labels"] == ["Agent", "Entity"]

    loaded = graph_export.import_database(driver, target, tmp_path, lambda n: None,
                                          source=source)
    assert loaded == {"nodes": 7, "relationships": 4}
    assert content(driver, target) == content(driver, source)
    with driver.session(database=target) as s:  # the temporary indexes are gone
        names = [str(r["name"]) for r in s.run("SHOW INDEXES")]
    assert not [n for n in names if n.startswith("unison_backup")], names
    # The services' own MERGE finds a restored node (one node, not a second one).
    with driver.session(database=target) as s:
        s.run("MERGE (n:Entity:Person {tenant: 'home', id: 'ann'}) "
              "SET n.updated_at = 1").consume()
    assert graph_export.counts(driver, target) == (7, 4)

    graph_export.wipe(driver, target)
    assert graph_export.data_nodes(driver, target) == 0
    assert graph_export.counts(driver, target) == (2, 0)


def test_a_relationship_to_a_node_created_during_the_export_is_left_out(
        driver: Driver, tmp_path: Path):
    """A live graph: a node and its edge written between the node pass and the
    relationship pass. The edge is skipped (counted), so the files still load."""
    source = new_database(SEED)
    seen: list[int] = []

    def advance(n: int) -> None:
        seen.append(n)
        if len(seen) == 7:  # the last node of the node pass was written
            with driver.session(database=source) as s:
                s.run("MATCH (p:Person {id: 'ann'}) CREATE (late:Entity:Session "
                      "{tenant: 'home', id: 'late'})-[:FOR_PERSON]->(p)").consume()

    written = graph_export.export_database(driver, source, tmp_path, advance)
    assert written == {"nodes": 7, "relationships": 4, "skipped": 1}
    target = new_database([])
    loaded = graph_export.import_database(driver, target, tmp_path, lambda n: None,
                                          source=source)
    assert loaded == {"nodes": 7, "relationships": 4}


def test_a_value_that_is_not_json_stops_the_export(driver: Driver, tmp_path: Path):
    source = new_database(["CREATE (:Entity {tenant: 'home', id: 'when', at: datetime()})"])
    with pytest.raises(graph_export.GraphExportError, match="is not JSON"):
        graph_export.export_database(driver, source, tmp_path, lambda n: None)


def test_a_label_that_is_not_an_identifier_is_refused_before_writing(driver: Driver,
                                                                   tmp_path: Path):
    target = new_database([])
    nodes, rels = graph_export.node_files(tmp_path, "evil")
    nodes.write_text(json.dumps({"id": "1", "labels": ["A`) DETACH DELETE (x"],
                                 "properties": {}}) + "\n")
    rels.write_text("")
    with pytest.raises(graph_export.GraphExportError, match="not a plain label"):
        graph_export.import_database(driver, target, tmp_path, lambda n: None,
                                     source="evil")
    assert graph_export.counts(driver, target) == (0, 0)


def test_a_relationship_whose_end_is_missing_fails_the_import(driver: Driver,
                                                             tmp_path: Path):
    target = new_database([])
    nodes, rels = graph_export.node_files(tmp_path, "broken")
    nodes.write_text(json.dumps({"id": "#1:0", "labels": ["Entity"],
                                 "properties": {"id": "a"}}) + "\n")
    rels.write_text(json.dumps({"type": "R", "start": "#1:0", "end": "#9:9",
                                "start_labels": ["Entity"], "end_labels": ["Entity"],
                                "properties": {}}) + "\n")
    with pytest.raises(graph_export.GraphExportError, match="0 of 1 R relationships"):
        graph_export.import_database(driver, target, tmp_path, lambda n: None,
                                     source="broken")
