"""Person erasure and export over a graph: find what the person owns (model.py), then
delete it, strip the person's id from what stays, purge the caches; or stream it.

Collection walks out from the person in rounds: a node of an owned label next to what
is already found joins when all its owners are found (or all its neighbours are), until
a round adds nothing. Each round reads only the relationships of new nodes, so the cost
follows the person's share of the graph, not the household's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from redis.asyncio import Redis

from ...auth import RequestContext
from ...graph_cache import Generations
from ...graph_runtime import GraphRuntime
from .caches import purge_tenant
from .model import PersonGraphModel, names_person
from .repository import BATCH, PersonGraphRepository

MAX_ROUNDS = 64
_FIXED = frozenset({"tenant", "id"})


@dataclass
class Found:
    """What belongs to the person: nodes to delete, relationships touching them (by
    element id), and the properties naming the person on what stays."""

    nodes: set[str] = field(default_factory=set)
    rels: dict[str, dict[str, Any]] = field(default_factory=dict)
    strip_nodes: dict[str, list[str]] = field(default_factory=dict)
    strip_rels: list[tuple[dict[str, Any], list[str]]] = field(default_factory=list)




def _labels(raw: list[str]) -> list[str]:
    return sorted(label for label in raw if label != "Entity")


def line(domain: str, record: dict[str, Any]) -> bytes:
    return orjson.dumps({"domain": domain, "record": record}) + b"\n"


class PersonGraphService:
    def __init__(self, repo: PersonGraphRepository, redis: Redis | None,
                 generations: Generations | None, model: PersonGraphModel) -> None:
        self.repo = repo
        self.redis = redis
        self.generations = generations
        self.model = model

    async def collect(self, tenant: str, person: str) -> Found:
        found = Found()
        for node in await self.repo.naming_nodes(tenant, person):
            named = [k for k, v in node["props"].items() if names_person(v, person)]
            if not named:
                continue
            if "id" in named or self.model.is_owned_label(node["labels"]):
                found.nodes.add(str(node["id"]))
            elif [k for k in named if k not in _FIXED]:
                found.strip_nodes[str(node["id"])] = [k for k in named if k not in _FIXED]
        adjacency: dict[str, list[dict[str, Any]]] = {}
        for _ in range(MAX_ROUNDS):
            await self._load(tenant, sorted(found.nodes - adjacency.keys()), adjacency)
            candidates = {row["other"] for n in found.nodes for row in adjacency[n]
                          if row["other"] not in found.nodes
                          and self.model.is_owned_label(row["labels"])}
            await self._load(tenant, sorted(candidates - adjacency.keys()), adjacency)
            added = {c for c in candidates if self._belongs(adjacency[c], found.nodes)}
            if not added:
                break
            found.nodes |= added
        for node_id in found.nodes:
            for row in adjacency.get(node_id, []):
                found.rels[row["rel"]["rid"]] = row["rel"]
        for rel in await self.repo.naming_rels(tenant, person):
            if rel["rid"] in found.rels:
                continue
            keys = [k for k, v in (rel["props"] or {}).items() if names_person(v, person)]
            if keys:
                found.strip_rels.append((rel, keys))
        for node_id in found.nodes:
            found.strip_nodes.pop(node_id, None)
        return found

    async def _load(self, tenant: str, ids: list[str],
                    adjacency: dict[str, list[dict[str, Any]]]) -> None:
        for node_id in ids:
            adjacency[node_id] = []
        for row in await self.repo.adjacency(tenant, ids):
            adjacency[str(row["id"])].append(row)

    def _belongs(self, rows: list[dict[str, Any]], taken: set[str]) -> bool:
        """All the node's owners are taken (and it has one), or all its neighbours are."""
        owners = {row["other"] for row in rows
                  if self.model.owner_edge(row["rel"]["type"],
                                           row["rel"]["start_id"] == row["id"])}
        if owners:
            return owners <= taken
        return bool(rows) and all(row["other"] in taken for row in rows)

    async def erase(self, ctx: RequestContext) -> dict[str, Any]:
        tenant, person = ctx.tenant_id, ctx.person_id
        found = await self.collect(tenant, person)
        nodes = props = purged = 0
        if found.nodes or found.strip_nodes or found.strip_rels:
            # Purge first as well: with Redis away the erasure stops (503) before the
            # graph is touched, so its repeat still finds everything to purge.
            purged = await self._purge(tenant)
            nodes = await self.repo.delete_nodes(tenant, sorted(found.nodes))
            for node_id, keys in sorted(found.strip_nodes.items()):
                await self.repo.remove_node_props(tenant, node_id, keys)
                props += len(keys)
            for rel, keys in found.strip_rels:
                await self.repo.remove_rel_props(tenant, rel, keys)
                props += len(keys)
            purged += await self._purge(tenant)  # what was read meanwhile
        else:
            purged = await self._purge(tenant, naming=person)
        return {"service": self.model.service, "tenant_id": tenant, "person_id": person,
                "removed": {"nodes": nodes, "relationships": len(found.rels) if nodes else 0,
                            "properties": props},
                "keys_destroyed": 0, "caches_purged": purged,
                "completed_at": datetime.now(UTC)}

    async def _purge(self, tenant: str, naming: str | None = None) -> int:
        return await purge_tenant(self.redis, self.generations, self.model.keyspaces,
                                  tenant, naming)

    async def export(self, ctx: RequestContext) -> AsyncIterator[bytes]:
        """The lines of the person's export: their nodes, then every relationship of
        them; of a shared node or relationship, only the properties naming the person.
        Collected before the first byte is sent: a graph outage is a 503, not a cut
        stream."""
        found = await self.collect(ctx.tenant_id, ctx.person_id)
        ids = sorted(found.nodes | found.strip_nodes.keys())
        first = await self.repo.nodes(ctx.tenant_id, ids[:BATCH])
        return self._lines(ctx.tenant_id, found, ids, first)

    async def _lines(self, tenant: str, found: Found, ids: list[str],
                     first: list[dict[str, Any]]) -> AsyncIterator[bytes]:
        for start in range(0, len(ids), BATCH):
            nodes = first if start == 0 else await self.repo.nodes(
                tenant, ids[start:start + BATCH])
            for node in nodes:
                props = node["props"]
                named = found.strip_nodes.get(str(props.get("id")))
                if named is not None:  # a shared node: only what names the person
                    props = {k: v for k, v in props.items() if k in (*named, *_FIXED)}
                yield line("nodes", {"labels": _labels(node["labels"]), "properties": props})
        rels = [*found.rels.values(),
                *({**rel, "props": {k: rel["props"][k] for k in keys}}
                  for rel, keys in found.strip_rels)]
        for rel in sorted(rels, key=lambda r: (r["start_id"], r["type"], r["end_id"])):
            yield line("relationships", {"type": rel["type"], "start_id": rel["start_id"],
                                         "end_id": rel["end_id"],
                                         "properties": rel["props"] or {}})


def person_graph_service(runtime: GraphRuntime, model: PersonGraphModel) -> PersonGraphService:
    """The service of a graph app, on its runtime's graph, Redis and generations."""
    return PersonGraphService(PersonGraphRepository(runtime.graph), runtime.redis,
                              runtime.generations, model)
