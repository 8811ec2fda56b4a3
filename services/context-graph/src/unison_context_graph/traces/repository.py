"""Cypher of the trace index: one Resource node per event (type `trace`, the event
kind, its time in epoch ms, its storage id), linked from the Person."""

from __future__ import annotations

from typing import Any

from unison_shared.graph import Graph
from unison_shared.graph_api.repository import label_guard, now_ms

_GUARD = label_guard([("user", "Person")])


class TraceRepository:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph

    async def record(self, tenant: str, user_id: str, rows: list[dict[str, Any]]) -> int:
        out = await self.graph.run(
            "traces.record",
            _GUARD + "MERGE (p:Entity:Person {tenant: $tenant, id: $user}) "
            "ON CREATE SET p.created_at = $now, p.updated_at = $now, p.person_id = $user "
            "WITH p UNWIND $rows AS row "
            "MERGE (r:Entity:Resource {tenant: $tenant, id: row.id}) "
            "ON CREATE SET r.created_at = $now "
            "SET r.updated_at = $now, r.type = 'trace', r.kind = row.kind, "
            "r.storage_id = row.storage_id, r.timestamp = row.ts "
            "MERGE (p)-[h:HAS_RESOURCE]->(r) "
            "ON CREATE SET h.tenant = $tenant, h.created_at = $now "
            "RETURN count(r) AS c",
            {"tenant": tenant, "user": user_id, "rows": rows, "now": now_ms()}, write=True)
        first = out.first()
        return int(first["c"]) if first else 0

    async def page(self, tenant: str, user_id: str, since_ms: int, skip: int,
                   limit: int) -> list[str]:
        """Storage ids of the person's trace events since a time, newest first."""
        out = await self.graph.run(
            "traces.page",
            "MATCH (p:Person {tenant: $tenant, id: $user})-[h:HAS_RESOURCE]->(r:Resource) "
            "WHERE r.tenant = $tenant AND r.type = 'trace' AND r.timestamp >= $since "
            "RETURN r.storage_id AS sid ORDER BY r.timestamp DESC, r.id DESC "
            "SKIP $skip LIMIT $limit",
            {"tenant": tenant, "user": user_id, "since": since_ms, "skip": skip,
             "limit": limit})
        return [str(r["sid"]) for r in out.records]
