"""Cypher of the context state: the Person node holds the state's storage id."""

from __future__ import annotations

from unison_shared.graph import Graph
from unison_shared.graph_api.repository import label_guard, now_ms

_PERSON = ("MERGE (p:Entity:Person {tenant: $tenant, id: $user}) "
           "ON CREATE SET p.created_at = $now "
           "SET p.updated_at = $now, p.person_id = $user, p.storage_id = $sid ")
_SESSION = ("MERGE (s:Entity:Session {tenant: $tenant, id: $session}) "
            "ON CREATE SET s.created_at = $now SET s.updated_at = $now "
            "MERGE (s)-[r:FOR_PERSON]->(p) "
            "ON CREATE SET r.tenant = $tenant, r.created_at = $now ")


_GUARD_PERSON = label_guard([("user", "Person")])
_GUARD_BOTH = label_guard([("user", "Person"), ("session", "Session")])


class ContextRepository:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph

    async def record_state(self, tenant: str, user_id: str, storage_id: str,
                           session_id: str | None) -> bool:
        """False when the user's or the session's id is a node with another label."""
        params = {"tenant": tenant, "user": user_id, "sid": storage_id, "now": now_ms(),
                  "session": session_id}
        if session_id is None:
            out = await self.graph.run(
                "context.record",
                _GUARD_PERSON + _PERSON + "RETURN p.id AS id", params, write=True)
        else:
            out = await self.graph.run(
                "context.record_session",
                _GUARD_BOTH + _PERSON + "WITH p " + _SESSION + "RETURN p.id AS id",
                params, write=True)
        return out.first() is not None

    async def state_ref(self, tenant: str, user_id: str) -> str | None:
        out = await self.graph.run(
            "context.ref",
            "MATCH (p:Person {tenant: $tenant, id: $user}) RETURN p.storage_id AS sid",
            {"tenant": tenant, "user": user_id})
        first = out.first()
        return str(first["sid"]) if first and first["sid"] else None
