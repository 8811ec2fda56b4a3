"""The Cypher of the traversal API: the only place it is written.

Labels and relationship types are members of graph_schema's allow-lists, checked again
here before they are joined into a pattern; depths are ints the service bounded. Every
value is a parameter, every pattern is pinned to `$tenant`, and every path is checked
node by node against it.
"""

from __future__ import annotations

import time
from typing import Any, LiteralString

from ..graph import Graph
from ..graph_schema import BASE_LABEL, LABELS, REL_TYPES
from .schemas import Direction

NODE = "{{props: properties({0}), labels: [l IN labels({0}) WHERE l <> 'Entity']}}"
_ARROWS = {Direction.OUT: ("-", "->"), Direction.IN: ("<-", "-"), Direction.BOTH: ("-", "-")}


def now_ms() -> int:
    return int(time.time() * 1000)


def _labels(labels: list[str]) -> str:
    if not labels or any(lbl not in LABELS for lbl in labels):
        raise ValueError("labels off the allow-list")
    return ":".join([BASE_LABEL, *labels])


def _rel(rel_type: str) -> str:
    if rel_type not in REL_TYPES:
        raise ValueError("relationship type off the allow-list")
    return rel_type


def _node(var: str) -> str:
    return NODE.format(var)


def _q(text: str) -> LiteralString:
    """Cypher built from constant fragments and allow-listed names only."""
    return text  # type: ignore[return-value,unused-ignore]


def label_guard(pairs: list[tuple[str, str]]) -> LiteralString:
    """A statement prefix that lets the rest run only when each id parameter names no
    node yet or a node with that label. ArcadeDB's `MERGE (n:Entity:Person {id})`
    matches an `Entity:Device` with that id (Neo4j fails on the constraint): with this
    guard both answer the same, a statement that returns no row."""
    matches, conds, names = [], [], []
    for n, (param, label) in enumerate(pairs):
        if label not in LABELS or not param.isidentifier():
            raise ValueError("guard on a label off the allow-list")
        matches.append(f"OPTIONAL MATCH (g{n}:Entity {{tenant: $tenant, id: ${param}}}) ")
        conds.append(f"(g{n} IS NULL OR '{label}' IN labels(g{n}))")
        names.append(f"g{n}")
    return _q("".join(matches) + f"WITH {', '.join(names)} WHERE {' AND '.join(conds)} ")


def _rel_map(var: str) -> str:
    return (f"{{type: type({var}), start_id: startNode({var}).id, "
            f"end_id: endNode({var}).id, props: properties({var})}}")


class TraversalRepository:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph

    async def upsert_nodes(self, tenant: str, labels: list[str],
                           rows: list[dict[str, Any]]) -> list[str]:
        """MERGE by (tenant, id): created once, its props merged on every call. A row
        whose id is taken by a node with other labels is skipped (not in the ids
        returned): ArcadeDB's MERGE would otherwise match that node regardless of its
        labels, where Neo4j fails on the uniqueness constraint."""
        cypher = _q(
            "UNWIND $rows AS row "
            "OPTIONAL MATCH (old:Entity {tenant: $tenant, id: row.id}) "
            "WITH row, old WHERE old IS NULL OR all(l IN $labels WHERE l IN labels(old)) "
            f"MERGE (n:{_labels(labels)} {{tenant: $tenant, id: row.id}}) "
            "ON CREATE SET n.created_at = $now SET n.updated_at = $now, n += row.props "
            "RETURN n.id AS id")
        out = await self.graph.run("nodes.upsert", cypher,
                                   {"tenant": tenant, "rows": rows, "labels": labels,
                                    "now": now_ms()}, write=True)
        return [str(r["id"]) for r in out.records]

    async def patch_node(self, tenant: str, node_id: str, props: dict[str, Any]) -> bool:
        out = await self.graph.run(
            "nodes.patch",
            "MATCH (n:Entity {tenant: $tenant, id: $id}) "
            "SET n += $props, n.updated_at = $now RETURN n.id AS id",
            {"tenant": tenant, "id": node_id, "props": props, "now": now_ms()}, write=True)
        return out.first() is not None

    async def get_node(self, tenant: str, node_id: str) -> dict[str, Any] | None:
        out = await self.graph.run(
            "nodes.get",
            _q(f"MATCH (n:Entity {{tenant: $tenant, id: $id}}) RETURN {_node('n')} AS n, "
               "COUNT { (n)--() } AS degree"),
            {"tenant": tenant, "id": node_id})
        first = out.first()
        if first is None:
            return None
        return {**first["n"], "degree": first["degree"]}

    async def delete_node(self, tenant: str, node_id: str) -> bool:
        out = await self.graph.run(
            "nodes.delete",
            "MATCH (n:Entity {tenant: $tenant, id: $id}) WITH n, n.id AS id "
            "DETACH DELETE n RETURN id",
            {"tenant": tenant, "id": node_id}, write=True)
        return out.first() is not None

    async def upsert_rels(self, tenant: str, rel_type: str,
                          rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
        """MERGE each relationship between two nodes of the tenant; the pairs written."""
        cypher = _q(
            "UNWIND $rows AS row "
            "MATCH (a:Entity {tenant: $tenant, id: row.start_id}) "
            "MATCH (b:Entity {tenant: $tenant, id: row.end_id}) "
            # Writing the start node first makes concurrent MERGEs of its relationships
            # take turns (Neo4j: its write lock; ArcadeDB: a conflict, retried), so a
            # race cannot create the relationship twice.
            "SET a.updated_at = $now "
            f"MERGE (a)-[r:{_rel(rel_type)}]->(b) "
            "ON CREATE SET r.tenant = $tenant, r.created_at = $now "
            "SET r.updated_at = $now, r += row.props "
            "RETURN row.start_id AS s, row.end_id AS e")
        out = await self.graph.run("rels.upsert", cypher,
                                   {"tenant": tenant, "rows": rows, "now": now_ms()},
                                   write=True)
        return [(str(r["s"]), str(r["e"])) for r in out.records]

    async def get_rel(self, tenant: str, start_id: str, rel_type: str,
                      end_id: str) -> dict[str, Any] | None:
        out = await self.graph.run(
            "rels.get",
            _q(f"MATCH (a:Entity {{tenant: $tenant, id: $s}})-[r:{_rel(rel_type)}]->"
               f"(b:Entity {{tenant: $tenant, id: $e}}) WHERE r.tenant = $tenant "
               f"RETURN {_rel_map('r')} AS r LIMIT 1"),
            {"tenant": tenant, "s": start_id, "e": end_id})
        first = out.first()
        return first["r"] if first else None

    async def delete_rel(self, tenant: str, start_id: str, rel_type: str,
                         end_id: str) -> int:
        out = await self.graph.run(
            "rels.delete",
            _q(f"MATCH (a:Entity {{tenant: $tenant, id: $s}})-[r:{_rel(rel_type)}]->"
               "(b:Entity {tenant: $tenant, id: $e}) WHERE r.tenant = $tenant "
               "DELETE r RETURN count(*) AS c"),
            {"tenant": tenant, "s": start_id, "e": end_id}, write=True)
        first = out.first()
        return int(first["c"]) if first else 0

    async def neighbours(self, tenant: str, node_id: str, depth: int, direction: Direction,
                         types: list[str] | None, labels: list[str] | None, skip: int,
                         limit: int) -> list[dict[str, Any]]:
        left, right = _ARROWS[direction]
        if types is not None:
            types = [_rel(t) for t in types]
        cypher = _q(
            "MATCH (s:Entity {tenant: $tenant, id: $id}) "
            f"MATCH p = (s){left}[*1..{int(depth)}]{right}(m:Entity) "
            "WHERE m <> s AND all(x IN nodes(p) WHERE x.tenant = $tenant) "
            "AND ($types IS NULL OR all(r IN relationships(p) WHERE type(r) IN $types)) "
            "AND ($labels IS NULL OR any(l IN labels(m) WHERE l IN $labels)) "
            "WITH m, min(length(p)) AS depth "
            f"RETURN {_node('m')} AS n, depth ORDER BY depth, m.id SKIP $skip LIMIT $limit")
        out = await self.graph.run(
            "nodes.neighbours", cypher,
            {"tenant": tenant, "id": node_id, "types": types, "labels": labels,
             "skip": skip, "limit": limit})
        return [{**r["n"], "depth": r["depth"]} for r in out.records]

    async def rels_among(self, tenant: str, ids: list[str]) -> list[dict[str, Any]]:
        out = await self.graph.run(
            "rels.among",
            _q("MATCH (a:Entity {tenant: $tenant})-[r]->(b:Entity {tenant: $tenant}) "
               "WHERE a.id IN $ids AND b.id IN $ids AND r.tenant = $tenant "
               f"RETURN {_rel_map('r')} AS r"),
            {"tenant": tenant, "ids": ids})
        return [r["r"] for r in out.records]

    async def shortest_path(self, tenant: str, from_id: str, to_id: str,
                            max_depth: int) -> dict[str, Any] | None:
        cypher = _q(
            "MATCH (a:Entity {tenant: $tenant, id: $a}) "
            "MATCH (b:Entity {tenant: $tenant, id: $b}) "
            f"MATCH p = shortestPath((a)-[*..{int(max_depth)}]-(b)) "
            "WHERE all(x IN nodes(p) WHERE x.tenant = $tenant) "
            f"RETURN [x IN nodes(p) | {_node('x')}] AS nodes, "
            f"[r IN relationships(p) | {_rel_map('r')}] AS rels LIMIT 1")
        out = await self.graph.run("paths.shortest", cypher,
                                   {"tenant": tenant, "a": from_id, "b": to_id})
        return out.first()

    async def person_view(self, tenant: str, person_id: str, view: str,
                          limit: int) -> list[dict[str, Any]]:
        pattern = PERSON_VIEWS[view]
        cypher = _q(
            f"MATCH (p:Person {{tenant: $tenant, id: $id}}) MATCH {pattern} "
            "WHERE x.tenant = $tenant AND all(n IN nodes(path) WHERE n.tenant = $tenant) "
            f"WITH DISTINCT x RETURN {_node('x')} AS n ORDER BY x.id LIMIT $limit")
        out = await self.graph.run(f"persons.{view}", cypher,
                                   {"tenant": tenant, "id": person_id, "limit": limit})
        return [r["n"] for r in out.records]


PERSON_VIEWS: dict[str, str] = {
    "devices": "path = (p)-[:OWNS]->(x:Device)",
    "sessions": "path = (p)-[:FOR_PERSON]-(x:Session)",
    "resources": "path = (p)-[:MEMBER_OF]->(:Workspace)-[:HAS_RESOURCE]->(x:Resource)",
    "agents": "path = (p)<-[:REQUESTED_BY]-(:IntentInstance)<-[:HANDLES]-(x)",
}
