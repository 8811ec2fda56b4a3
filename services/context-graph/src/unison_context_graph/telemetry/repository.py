"""Cypher of actuation records: a Resource node (type `actuation`) per action."""

from __future__ import annotations

from unison_shared.graph import Graph
from unison_shared.graph_api.repository import label_guard, now_ms

_GUARD = label_guard([("person", "Person")])
_RESOURCE = ("MERGE (r:Entity:Resource {tenant: $tenant, id: $id}) "
             "ON CREATE SET r.created_at = $now "
             "SET r.updated_at = $now, r.type = 'actuation', r.storage_id = $sid, "
             "r.timestamp = $now ")


class TelemetryRepository:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph

    async def record(self, tenant: str, action_id: str, storage_id: str,
                     person_id: str | None) -> bool:
        params = {"tenant": tenant, "id": f"actuation:{action_id}", "sid": storage_id,
                  "person": person_id, "now": now_ms()}
        if person_id is None:
            await self.graph.run("telemetry.record", _RESOURCE + "RETURN r.id AS id",
                                 params, write=True)
            return True
        out = await self.graph.run(
            "telemetry.record_person",
            _GUARD + _RESOURCE
            + "WITH r MERGE (p:Entity:Person {tenant: $tenant, id: $person}) "
            "ON CREATE SET p.created_at = $now, p.updated_at = $now, p.person_id = $person "
            "MERGE (p)-[h:HAS_RESOURCE]->(r) "
            "ON CREATE SET h.tenant = $tenant, h.created_at = $now RETURN r.id AS id",
            params, write=True)
        return out.first() is not None
