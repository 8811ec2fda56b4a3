"""Cypher of reports: a Resource node per (kind, owner) holding the storage id."""

from __future__ import annotations

from typing import Any

from unison_shared.graph import Graph
from unison_shared.graph_api.repository import label_guard, now_ms

_GUARD = label_guard([("person", "Person")])
_RESOURCE = ("MERGE (r:Entity:Resource {tenant: $tenant, id: $id}) "
             "ON CREATE SET r.created_at = $now "
             "SET r.updated_at = $now, r.type = $kind, r.storage_id = $sid, "
             "r.timestamp = $now, r += $props ")


class ReportRepository:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph

    async def record(self, tenant: str, kind: str, owner: str, storage_id: str,
                     person_id: str | None, props: dict[str, Any]) -> bool:
        params = {"tenant": tenant, "id": f"{kind}:{owner}", "kind": kind, "sid": storage_id,
                  "person": person_id, "props": props, "now": now_ms()}
        if person_id is None:
            await self.graph.run("reports.record", _RESOURCE + "RETURN r.id AS id", params,
                                 write=True)
            return True
        out = await self.graph.run(
            "reports.record_person",
            _GUARD + _RESOURCE
            + "WITH r MERGE (p:Entity:Person {tenant: $tenant, id: $person}) "
            "ON CREATE SET p.created_at = $now, p.updated_at = $now, p.person_id = $person "
            "MERGE (p)-[h:HAS_RESOURCE]->(r) "
            "ON CREATE SET h.tenant = $tenant, h.created_at = $now RETURN r.id AS id",
            params, write=True)
        return out.first() is not None

    async def ref(self, tenant: str, kind: str, owner: str) -> str | None:
        out = await self.graph.run(
            "reports.ref",
            "MATCH (r:Resource {tenant: $tenant, id: $id}) RETURN r.storage_id AS sid",
            {"tenant": tenant, "id": f"{kind}:{owner}"})
        first = out.first()
        return str(first["sid"]) if first and first["sid"] else None
