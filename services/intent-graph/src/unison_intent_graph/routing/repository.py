"""Cypher of routing: the HANDLES edges into intents of one type, with outcomes."""

from __future__ import annotations

from typing import Any

from unison_shared.graph import Graph


class RoutingRepository:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph

    async def handler_stats(self, tenant: str, intent_type: str, person_id: str | None,
                            device_id: str | None) -> list[dict[str, Any]]:
        out = await self.graph.run(
            "routing.handler_stats",
            "MATCH (h:Entity {tenant: $tenant})-[r:HANDLES]->"
            "(i:IntentInstance {tenant: $tenant, type: $type}) WHERE r.tenant = $tenant "
            "OPTIONAL MATCH (i)-[:REQUESTED_BY]->(pp:Person {tenant: $tenant, id: $person}) "
            "OPTIONAL MATCH (i)-[:ON_DEVICE]->(dd:Device {tenant: $tenant, id: $device}) "
            "WITH h, i, count(pp) AS mine, count(dd) AS here "
            "RETURN h.id AS id, [l IN labels(h) WHERE l <> 'Entity'] AS labels, "
            "count(i) AS handled, "
            "sum(CASE WHEN i.state = 'completed' THEN 1 ELSE 0 END) AS completed, "
            "sum(CASE WHEN i.state = 'failed' THEN 1 ELSE 0 END) AS failed, "
            "max(i.updated_at) AS last, sum(mine) AS mine, sum(here) AS here",
            {"tenant": tenant, "type": intent_type, "person": person_id, "device": device_id})
        return out.records
