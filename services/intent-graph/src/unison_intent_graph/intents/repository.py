"""Cypher of IntentInstance nodes. A creation is one statement: the parent (when named)
is matched first, so an unknown parent creates nothing; a transition is one
conditional SET, so of two racing transitions from one state exactly one applies."""

from __future__ import annotations

from typing import Any, LiteralString

from unison_shared.graph import Graph
from unison_shared.graph_api.repository import label_guard, now_ms

NODE = "{props: properties(x), labels: [l IN labels(x) WHERE l <> 'Entity']}"
_INTENT = ("MERGE (i:Entity:IntentInstance {tenant: $tenant, id: $id}) "
           "ON CREATE SET i.created_at = $now, i.updated_at = $now, i.state = 'created', "
           "i.type = $type "
           "SET i += $props ")
_PARENT = "MATCH (parent:IntentInstance {tenant: $tenant, id: $parent}) "
_TRIGGERED = ("WITH i, parent MERGE (parent)-[t:TRIGGERED]->(i) "
              "ON CREATE SET t.tenant = $tenant, t.created_at = $now ")
_PERSON = ("WITH i MERGE (p:Entity:Person {tenant: $tenant, id: $person}) "
           "ON CREATE SET p.created_at = $now, p.updated_at = $now, p.person_id = $person "
           "MERGE (i)-[rp:REQUESTED_BY]->(p) "
           "ON CREATE SET rp.tenant = $tenant, rp.created_at = $now ")
_DEVICE = ("WITH i MERGE (d:Entity:Device {tenant: $tenant, id: $device}) "
           "ON CREATE SET d.created_at = $now, d.updated_at = $now "
           "MERGE (i)-[rd:ON_DEVICE]->(d) "
           "ON CREATE SET rd.tenant = $tenant, rd.created_at = $now ")
_POLICY = ("WITH i MERGE (g:Entity:PolicyGroup {tenant: $tenant, id: $policy}) "
           "ON CREATE SET g.created_at = $now, g.updated_at = $now "
           "MERGE (i)-[ra:ALLOWED_BY]->(g) "
           "ON CREATE SET ra.tenant = $tenant, ra.created_at = $now ")
_HANDLER: dict[str, LiteralString] = {
    "Agent": "MERGE (h:Entity:Agent {tenant: $tenant, id: $handler}) ",
    "Skill": "MERGE (h:Entity:Skill {tenant: $tenant, id: $handler}) ",
}
_HANDLES = ("ON CREATE SET h.created_at = $now, h.updated_at = $now "
            "MERGE (h)-[rh:HANDLES]->(i) "
            "ON CREATE SET rh.tenant = $tenant, rh.created_at = $now ")


class IntentRepository:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph

    async def create(self, tenant: str, intent_id: str, intent_type: str,
                     props: dict[str, Any], person_id: str | None, device_id: str | None,
                     parent_id: str | None, policy_id: str | None) -> bool:
        guarded = [("id", "IntentInstance")]
        guarded += [("person", "Person")] if person_id else []
        guarded += [("device", "Device")] if device_id else []
        guarded += [("policy", "PolicyGroup")] if policy_id else []
        cypher = label_guard(guarded)
        cypher += (_PARENT + _INTENT + _TRIGGERED) if parent_id else _INTENT
        if person_id:
            cypher += _PERSON
        if device_id:
            cypher += _DEVICE
        if policy_id:
            cypher += _POLICY
        cypher += "RETURN i.id AS id"
        out = await self.graph.run(
            "intents.create", cypher,
            {"tenant": tenant, "id": intent_id, "type": intent_type, "props": props,
             "person": person_id, "device": device_id, "parent": parent_id,
             "policy": policy_id, "now": now_ms()}, write=True)
        return out.first() is not None

    async def get(self, tenant: str, intent_id: str) -> dict[str, Any] | None:
        out = await self.graph.run(
            "intents.get",
            "MATCH (i:IntentInstance {tenant: $tenant, id: $id}) "
            "OPTIONAL MATCH (i)-[:REQUESTED_BY]->(p:Person {tenant: $tenant}) "
            "OPTIONAL MATCH (h:Entity {tenant: $tenant})-[:HANDLES]->(i) "
            "RETURN i {.*} AS i, p.id AS person_id, "
            "collect(DISTINCT {id: h.id, labels: [l IN labels(h) WHERE l <> 'Entity']}) "
            "AS handlers",
            {"tenant": tenant, "id": intent_id})
        return out.first()

    async def transition(self, tenant: str, intent_id: str, allowed_from: list[str],
                         to_state: str, handler_id: str | None,
                         handler_label: str) -> bool:
        cypher: LiteralString = (
            "MATCH (i:IntentInstance {tenant: $tenant, id: $id}) WHERE i.state IN $from "
            "SET i.state = $to, i.updated_at = $now ")
        if handler_id:
            cypher = label_guard([("handler", handler_label)]) + cypher
            cypher += "WITH i " + _HANDLER[handler_label] + _HANDLES
        cypher += "RETURN i.id AS id"
        out = await self.graph.run(
            "intents.transition", cypher,
            {"tenant": tenant, "id": intent_id, "from": allowed_from, "to": to_state,
             "handler": handler_id, "now": now_ms()}, write=True)
        return out.first() is not None

    async def add_handler(self, tenant: str, intent_id: str, handler_id: str,
                          handler_label: str) -> bool:
        out = await self.graph.run(
            "intents.add_handler",
            label_guard([("handler", handler_label)])
            + "MATCH (i:IntentInstance {tenant: $tenant, id: $id}) "
            + _HANDLER[handler_label] + _HANDLES + "RETURN i.id AS id",
            {"tenant": tenant, "id": intent_id, "handler": handler_id, "now": now_ms()},
            write=True)
        return out.first() is not None

    async def produced(self, tenant: str, intent_id: str, resource_id: str,
                       storage_id: str | None) -> bool:
        out = await self.graph.run(
            "intents.produced",
            "MATCH (i:IntentInstance {tenant: $tenant, id: $id}) "
            "MERGE (r:Entity:Resource {tenant: $tenant, id: $resource}) "
            "ON CREATE SET r.created_at = $now "
            "SET r.updated_at = $now, r.storage_id = coalesce($sid, r.storage_id) "
            "MERGE (i)-[rp:PRODUCED]->(r) "
            "ON CREATE SET rp.tenant = $tenant, rp.created_at = $now RETURN r.id AS id",
            {"tenant": tenant, "id": intent_id, "resource": resource_id, "sid": storage_id,
             "now": now_ms()}, write=True)
        return out.first() is not None

    async def lineage(self, tenant: str, intent_id: str, depth: int,
                      up: bool) -> list[dict[str, Any]]:
        pattern: LiteralString = ("MATCH p = (x:IntentInstance)-[:TRIGGERED*1..{}]->(i) "
                                  if up else
                                  "MATCH p = (i)-[:TRIGGERED*1..{}]->(x:IntentInstance) ")
        cypher = ("MATCH (i:IntentInstance {tenant: $tenant, id: $id}) "
                  + pattern.format(int(depth))
                  + "WHERE all(n IN nodes(p) WHERE n.tenant = $tenant) "
                  "WITH x, min(length(p)) AS distance "
                  "RETURN " + NODE + " AS n, distance ORDER BY distance, x.id LIMIT 500")
        out = await self.graph.run("intents.lineage_up" if up else "intents.lineage_down",
                                   cypher, {"tenant": tenant, "id": intent_id})
        return out.records
