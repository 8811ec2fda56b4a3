"""The Cypher of person erasure and export: the only place it is written. Every value is
a parameter; every pattern is pinned to `$tenant`."""

from __future__ import annotations

from typing import Any

from ...graph import Graph

BATCH = 500
# An operator's call, not a request's: the scans for properties naming a person read the
# whole household, and a person may have many thousands of trace nodes.
BUDGET_SECONDS = 60.0
_REL = ("{rid: elementId(r), type: type(r), start_id: startNode(r).id, "
        "end_id: endNode(r).id, props: properties(r)}")
_NAMES = "toString(x[k]) CONTAINS $person"


def _batches(ids: list[str]) -> list[list[str]]:
    return [ids[i:i + BATCH] for i in range(0, len(ids), BATCH)]


class PersonGraphRepository:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.budget = max(BUDGET_SECONDS, graph.settings.query_timeout_seconds)

    async def adjacency(self, tenant: str, ids: list[str]) -> list[dict[str, Any]]:
        """Every relationship of the nodes `ids` within the tenant: `id` (the node), the
        relationship, `other` (the other end's id) and its `labels`."""
        rows: list[dict[str, Any]] = []
        for chunk in _batches(ids):
            out = await self.graph.run(
                "persons.adjacency",
                "UNWIND $ids AS nid MATCH (n:Entity {tenant: $tenant, id: nid})-[r]-"
                "(m:Entity) WHERE m.tenant = $tenant "
                f"RETURN nid AS id, {_REL} AS rel, m.id AS other, labels(m) AS labels",
                {"tenant": tenant, "ids": chunk}, budget=self.budget)
            rows.extend(out.records)
        return rows

    async def naming_nodes(self, tenant: str, person: str) -> list[dict[str, Any]]:
        """Nodes of the tenant with a property that contains the person's id (the caller
        checks each match: containing is not naming)."""
        out = await self.graph.run(
            "persons.naming_nodes",
            f"MATCH (x:Entity {{tenant: $tenant}}) WHERE any(k IN keys(x) WHERE {_NAMES}) "
            "RETURN x.id AS id, labels(x) AS labels, properties(x) AS props",
            {"tenant": tenant, "person": person}, budget=self.budget)
        return out.records

    async def naming_rels(self, tenant: str, person: str) -> list[dict[str, Any]]:
        out = await self.graph.run(
            "persons.naming_rels",
            "MATCH (a:Entity {tenant: $tenant})-[x]->(b:Entity) "
            f"WHERE b.tenant = $tenant AND any(k IN keys(x) WHERE {_NAMES}) "
            "WITH x AS r " f"RETURN {_REL} AS rel",
            {"tenant": tenant, "person": person}, budget=self.budget)
        return [r["rel"] for r in out.records]

    async def nodes(self, tenant: str, ids: list[str]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for chunk in _batches(ids):
            out = await self.graph.run(
                "persons.nodes",
                "UNWIND $ids AS nid MATCH (n:Entity {tenant: $tenant, id: nid}) "
                "RETURN labels(n) AS labels, properties(n) AS props ORDER BY n.id",
                {"tenant": tenant, "ids": chunk}, budget=self.budget)
            rows.extend(out.records)
        return rows

    async def delete_nodes(self, tenant: str, ids: list[str]) -> int:
        """DETACH DELETE the nodes; how many there were."""
        count = 0
        for chunk in _batches(ids):
            out = await self.graph.run(
                "persons.delete_nodes",
                "UNWIND $ids AS nid MATCH (n:Entity {tenant: $tenant, id: nid}) "
                "DETACH DELETE n RETURN count(*) AS c",
                {"tenant": tenant, "ids": chunk}, write=True, budget=self.budget)
            first = out.first()
            count += int(first["c"]) if first else 0
        return count

    async def remove_node_props(self, tenant: str, node_id: str, keys: list[str]) -> None:
        await self.graph.run(
            "persons.strip_node",
            "MATCH (n:Entity {tenant: $tenant, id: $id}) SET n += $nulls RETURN n.id AS id",
            {"tenant": tenant, "id": node_id, "nulls": dict.fromkeys(keys)}, write=True)

    async def remove_rel_props(self, tenant: str, rel: dict[str, Any],
                               keys: list[str]) -> None:
        await self.graph.run(
            "persons.strip_rel",
            "MATCH (a:Entity {tenant: $tenant, id: $s})-[r]->(b:Entity {tenant: $tenant, "
            "id: $e}) WHERE elementId(r) = $rid SET r += $nulls RETURN type(r) AS t",
            {"tenant": tenant, "s": rel["start_id"], "e": rel["end_id"], "rid": rel["rid"],
             "nulls": dict.fromkeys(keys)}, write=True)
