"""Graph databases to JSON lines and back, over Bolt with parameterized Cypher that both
Neo4j 5 and ArcadeDB's Bolt endpoint run.

Per database two files: `<db>.nodes.jsonl` (`{"id", "labels", "properties"}`) and
`<db>.relationships.jsonl` (`{"type", "start", "end", "start_labels", "end_labels",
"properties"}`), where `id`/`start`/`end` are the source server's `elementId()`: stable
within one export, meaningless elsewhere. Loading creates the nodes label set by label
set (`UNWIND $rows AS row CREATE (n:A:B) SET n += row.properties`, labels cannot be
parameters), tags each with its export id in `unison_backup_id`, creates relationships
between the tagged nodes (looked up by one label and the tag, through a temporary index
per label), then removes the tags and the indexes. Labels and types come from the file,
so they are checked to be plain identifiers and quoted.

`UnisonMigration` nodes (the applied schema files) are merged on (scope, name) instead
of created: a target whose services already migrated its graphs keeps one node per
file, and takes the source's.

Property values must be JSON types (the platform stores times as epoch milliseconds);
anything else (temporal, spatial, bytes) stops the export with the node it is on.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from neo4j import Driver, GraphDatabase
from neo4j.exceptions import DriverError, Neo4jError

from .targets import GraphConfig

BATCH = 500
TAG = "unison_backup_id"
MIGRATION_LABEL = "UnisonMigration"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
Advance = Callable[[int], None]


class GraphExportError(Exception):
    pass


# What a graph step can fail with: ours, the server's, the driver's (connection, auth).
ERRORS: tuple[type[Exception], ...] = (GraphExportError, Neo4jError, DriverError)


def connect(cfg: GraphConfig) -> Driver:
    return GraphDatabase.driver(cfg.uri, auth=(cfg.user, cfg.password))


def node_files(folder: Path, database: str) -> tuple[Path, Path]:
    return folder / f"{database}.nodes.jsonl", folder / f"{database}.relationships.jsonl"


def _ident(name: str) -> str:
    if not _IDENT.match(name):
        raise GraphExportError(f"{name!r} is not a plain label or relationship type")
    return f"`{name}`"


def _plain(value: Any, where: str) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return [_plain(v, where) for v in value]
    raise GraphExportError(f"{where}: a {type(value).__name__} property value is not "
                           "JSON; the platform stores only JSON types in the graph")


def counts(driver: Driver, database: str) -> tuple[int, int]:
    """(nodes, relationships) of the database."""
    with driver.session(database=database) as s:
        nodes = s.run("MATCH (n) RETURN count(n) AS c").single(strict=True)["c"]
        rels = s.run("MATCH ()-[r]->() RETURN count(r) AS c").single(strict=True)["c"]
    return int(nodes), int(rels)


def data_nodes(driver: Driver, database: str) -> int:
    """Nodes other than the migration records: what makes a graph non-empty."""
    with driver.session(database=database) as s:
        row = s.run(f"MATCH (n) WHERE NOT '{MIGRATION_LABEL}' IN labels(n) "
                    "RETURN count(n) AS c").single(strict=True)
        return int(row["c"])


def migrations(driver: Driver, database: str) -> dict[str, list[str]]:
    """{scope: [applied schema file, ...]}: the graph's schema version."""
    found: dict[str, list[str]] = defaultdict(list)
    with driver.session(database=database) as s:
        for r in s.run(f"MATCH (m:{MIGRATION_LABEL}) RETURN m.scope AS s, m.name AS n"):
            found[str(r["s"])].append(str(r["n"]))
    return {scope: sorted(names) for scope, names in sorted(found.items())}


def export_database(driver: Driver, database: str, folder: Path,
                    advance: Advance) -> dict[str, int]:
    """Write both files; `advance(n)` per n nodes or relationships read.

    Nodes first, then relationships: a relationship whose end node was created after
    the node pass (the graph is live) is left out and counted as `skipped`, so the
    files always load; it was written after the backup, as far as the backup goes."""
    nodes_path, rels_path = node_files(folder, database)
    written = {"nodes": 0, "relationships": 0, "skipped": 0}
    labels_of: dict[str, list[str]] = {}
    with driver.session(database=database) as s, nodes_path.open("w") as out:
        for r in s.run("MATCH (n) RETURN elementId(n) AS id, labels(n) AS labels, "
                       "properties(n) AS props"):
            where = f"{database} node {r['id']}"
            row = {"id": r["id"], "labels": sorted(r["labels"]),
                   "properties": {k: _plain(v, where) for k, v in r["props"].items()}}
            out.write(json.dumps(row, sort_keys=True) + "\n")
            labels_of[r["id"]] = row["labels"]
            written["nodes"] += 1
            advance(1)
    with driver.session(database=database) as s, rels_path.open("w") as out:
        for r in s.run("MATCH (a)-[r]->(b) RETURN elementId(a) AS start, "
                       "elementId(b) AS end, type(r) AS type, properties(r) AS props"):
            advance(1)
            if r["start"] not in labels_of or r["end"] not in labels_of:
                written["skipped"] += 1
                continue
            where = f"{database} relationship {r['type']} from {r['start']}"
            row = {"type": r["type"], "start": r["start"], "end": r["end"],
                   "start_labels": labels_of[r["start"]], "end_labels": labels_of[r["end"]],
                   "properties": {k: _plain(v, where) for k, v in r["props"].items()}}
            out.write(json.dumps(row, sort_keys=True) + "\n")
            written["relationships"] += 1
    return written


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    with path.open() as fh:
        for number, line in enumerate(fh, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except ValueError as exc:
                    raise GraphExportError(f"{path.name} line {number}: {exc}") from exc


def _batches(path: Path, key: Callable[[dict[str, Any]], tuple[str, ...]]
             ) -> Iterator[tuple[tuple[str, ...], list[dict[str, Any]]]]:
    """Rows grouped by `key`, each group flushed every BATCH rows."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in _lines(path):
        k = key(row)
        groups[k].append(row)
        if len(groups[k]) >= BATCH:
            yield k, groups.pop(k)
    yield from groups.items()


def _write(driver: Driver, database: str, query: str, rows: list[dict[str, Any]]) -> int:
    def work(tx: Any) -> int:
        return int(tx.run(query, rows=rows).single(strict=True)["c"])

    with driver.session(database=database) as s:
        return s.execute_write(work)


def _node(var: str, labels: list[str], props: str = "") -> str:
    """A node pattern; labels validated and quoted (they cannot be parameters)."""
    names = "".join(f":{_ident(label)}" for label in labels)
    return f"({var}{names}{' ' + props if props else ''})"


def import_database(driver: Driver, database: str, folder: Path, advance: Advance,
                    source: str | None = None) -> dict[str, int]:
    """Load the files of `source` (default: the same name) into `database`, empty but
    for its migration records.

    Nodes are looked up by one label and the tag, with a temporary index per label:
    a lookup on several labels is a scan on ArcadeDB (measured: quadratic)."""
    nodes_path, rels_path = node_files(folder, source or database)
    done = {"nodes": 0, "relationships": 0}
    keys: set[str] = set()
    for labels, rows in _batches(nodes_path, lambda r: tuple(r["labels"])):
        params = [{"id": r["id"], "props": r["properties"]} for r in rows]
        if list(labels) == [MIGRATION_LABEL]:
            query = (f"UNWIND $rows AS row MERGE (n:{MIGRATION_LABEL} "
                     "{scope: row.props.scope, name: row.props.name}) "
                     f"SET n += row.props, n.{TAG} = row.id RETURN count(n) AS c")
        else:
            query = (f"UNWIND $rows AS row CREATE {_node('n', list(labels))} "
                     f"SET n += row.props, n.{TAG} = row.id RETURN count(n) AS c")
        created = _write(driver, database, query, params)
        if created != len(rows):
            raise GraphExportError(f"{database}: {created} of {len(rows)} nodes "
                                   f"{list(labels)} written")
        keys.update(labels[:1])
        done["nodes"] += created
        advance(created)
    try:
        for label in sorted(keys):
            _schema(driver, database, f"CREATE INDEX {_index(label)} IF NOT EXISTS "
                                      f"FOR (n:{_ident(label)}) ON (n.{TAG})")
        done["relationships"] = _relationships(driver, database, rels_path, advance)
        _untag(driver, database, nodes_path)
    finally:
        for label in sorted(keys):
            _schema(driver, database, f"DROP INDEX {_index(label)} IF EXISTS")
    return done


def _relationships(driver: Driver, database: str, path: Path, advance: Advance) -> int:
    def key(r: dict[str, Any]) -> tuple[str, ...]:
        return (r["type"], *r["start_labels"][:1], "|", *r["end_labels"][:1])

    done = 0
    for group, rows in _batches(path, key):
        rtype, rest = group[0], list(group[1:])
        cut = rest.index("|")
        start, end = rest[:cut], rest[cut + 1:]
        params = [{"s": r["start"], "e": r["end"], "props": r["properties"]} for r in rows]
        query = (f"UNWIND $rows AS row MATCH {_node('a', start, f'{{{TAG}: row.s}}')} "
                 f"MATCH {_node('b', end, f'{{{TAG}: row.e}}')} "
                 f"CREATE (a)-[r:{_ident(rtype)}]->(b) SET r += row.props "
                 "RETURN count(r) AS c")
        created = _write(driver, database, query, params)
        if created != len(rows):
            raise GraphExportError(f"{database}: {created} of {len(rows)} {rtype} "
                                   "relationships found both their end nodes")
        done += created
        advance(created)
    return done


def _index(label: str) -> str:
    return _ident(f"unison_backup_{label}")


def _schema(driver: Driver, database: str, statement: str) -> None:
    with driver.session(database=database) as s:
        s.run(statement).consume()


def wipe(driver: Driver, database: str) -> None:
    """Delete every node but the migration records, with its relationships."""
    query = (f"MATCH (n) WHERE NOT '{MIGRATION_LABEL}' IN labels(n) WITH n LIMIT {BATCH} "
             "DETACH DELETE n RETURN count(*) AS c")
    while _write(driver, database, query, []) > 0:
        pass


def _untag(driver: Driver, database: str, nodes_path: Path) -> None:
    """Remove the tags, node by node through the index (no scan per batch)."""
    for labels, rows in _batches(nodes_path, lambda r: tuple(r["labels"][:1])):
        query = (f"UNWIND $rows AS row MATCH {_node('n', list(labels), f'{{{TAG}: row.id}}')} "
                 f"REMOVE n.{TAG} RETURN count(n) AS c")
        _write(driver, database, query, [{"id": r["id"]} for r in rows])
