"""The traversal API's rules: allow-lists, privacy, bounds, caching, tenancy.

Reads go through the service's hot-traversal cache (`graph:hot:<service>:*`); every
write bumps the tenant's generation before it is acknowledged, so the next read of any
replica misses the cache and sees the write.
"""

from __future__ import annotations

import base64
import binascii
from collections import defaultdict
from typing import Any

from ..errors import Conflict, NotFound, ValidationFailed
from ..graph import GraphSettings
from ..graph_cache import GraphCache
from ..graph_schema import check_id, check_labels, check_props, check_rel_type
from .repository import TraversalRepository
from .schemas import (
    Direction,
    Neighbour,
    NeighbourPage,
    NodeIn,
    NodeOut,
    PathOut,
    PersonView,
    PersonViewOut,
    RelIn,
    RelOut,
    Subgraph,
)

_HIDDEN = {"tenant", "id", "created_at", "updated_at"}
MAX_CURSOR_OFFSET = 100_000


def node_out(raw: dict[str, Any]) -> NodeOut:
    props = raw.get("props") or {}
    return NodeOut(id=str(props.get("id")), labels=sorted(raw.get("labels") or []),
                   props={k: v for k, v in props.items() if k not in _HIDDEN},
                   created_at=props.get("created_at"), updated_at=props.get("updated_at"),
                   degree=raw.get("degree"))


def rel_out(raw: dict[str, Any]) -> RelOut:
    props = raw.get("props") or {}
    return RelOut(start_id=str(raw["start_id"]), end_id=str(raw["end_id"]),
                  type=str(raw["type"]),
                  props={k: v for k, v in props.items() if k not in _HIDDEN},
                  created_at=props.get("created_at"), updated_at=props.get("updated_at"))


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        offset = int(text.removeprefix("o:"))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed("cursor: not a cursor this API issued", field="cursor") from None
    if not 0 <= offset <= MAX_CURSOR_OFFSET:
        raise ValidationFailed("cursor: out of range", field="cursor")
    return offset


class TraversalService:
    def __init__(self, repo: TraversalRepository, cache: GraphCache,
                 settings: GraphSettings) -> None:
        self.repo = repo
        self.cache = cache
        self.settings = settings

    # -- bounds -------------------------------------------------------------------------
    def bound(self, name: str, value: int, limit: int, setting: str) -> int:
        if value < 1:
            raise ValidationFailed(f"{name}: must be at least 1", field=name)
        if value > limit:
            raise ValidationFailed(f"{name} {value} exceeds the limit of {limit} "
                                   f"({setting})", field=name, limit=limit)
        return value

    def depth(self, value: int) -> int:
        return self.bound("depth", value, self.settings.max_depth, "max_depth")

    def limit(self, value: int) -> int:
        return self.bound("limit", value, self.settings.max_limit, "max_limit")

    # -- writes -------------------------------------------------------------------------
    async def upsert_nodes(self, tenant: str, nodes: list[NodeIn]) -> int:
        self.bound("batch size", len(nodes), self.settings.max_batch, "max_batch")
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for i, node in enumerate(nodes):
            at = f"nodes[{i}]." if len(nodes) > 1 else ""
            labels = check_labels(node.labels, f"{at}labels")
            props = check_props(node.props, f"{at}props")
            groups[tuple(labels)].append({"id": check_id(node.id, f"{at}id"),
                                          "props": props})
        taken: list[str] = []
        count = 0
        try:
            for labels_key, rows in groups.items():
                written = set(await self.repo.upsert_nodes(tenant, list(labels_key), rows))
                count += len(written)
                taken.extend(r["id"] for r in rows if r["id"] not in written)
        finally:
            await self.cache.invalidate(tenant)
        if taken:
            raise Conflict(f"id {taken[0]} is taken by a node with other labels",
                           ids=sorted(taken))
        return count

    async def patch_node(self, tenant: str, node_id: str, props: dict[str, Any]) -> NodeOut:
        clean = check_props(props)
        try:
            found = await self.repo.patch_node(tenant, node_id, clean)
        finally:
            await self.cache.invalidate(tenant)
        if not found:
            raise NotFound(f"no node {node_id}")
        return await self.get_node(tenant, node_id)

    async def delete_node(self, tenant: str, node_id: str) -> None:
        try:
            deleted = await self.repo.delete_node(tenant, node_id)
        finally:
            await self.cache.invalidate(tenant)
        if not deleted:
            raise NotFound(f"no node {node_id}")

    async def upsert_rels(self, tenant: str, rels: list[RelIn]) -> int:
        self.bound("batch size", len(rels), self.settings.max_batch, "max_batch")
        groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
        wanted: set[tuple[str, str, str]] = set()
        for i, rel in enumerate(rels):
            at = f"relationships[{i}]." if len(rels) > 1 else ""
            rel_type = check_rel_type(rel.type, f"{at}type")
            props = check_props(rel.props, f"{at}props")
            groups[rel_type].append({"start_id": rel.start_id, "end_id": rel.end_id,
                                     "props": props})
            wanted.add((rel.start_id, rel_type, rel.end_id))
        written: set[tuple[str, str, str]] = set()
        try:
            for rel_type, rows in groups.items():
                for s, e in await self.repo.upsert_rels(tenant, rel_type, rows):
                    written.add((s, rel_type, e))
        finally:
            await self.cache.invalidate(tenant)
        missing = sorted(wanted - written)
        if missing:
            s, t, e = missing[0]
            raise NotFound(f"no node {s} or {e} in this tenant: relationship {t} not written",
                           missing=[{"start_id": m[0], "type": m[1], "end_id": m[2]}
                                    for m in missing])
        return len(wanted)

    async def delete_rel(self, tenant: str, start_id: str, rel_type: str, end_id: str) -> None:
        check_rel_type(rel_type)
        try:
            count = await self.repo.delete_rel(tenant, start_id, rel_type, end_id)
        finally:
            await self.cache.invalidate(tenant)
        if not count:
            raise NotFound(f"no relationship {start_id}-{rel_type}->{end_id}")

    # -- reads --------------------------------------------------------------------------
    async def get_node(self, tenant: str, node_id: str) -> NodeOut:
        raw = await self.cache.get_or_load(tenant, ("node", node_id),
                                           lambda: self.repo.get_node(tenant, node_id))
        if raw is None:
            raise NotFound(f"no node {node_id}")
        return node_out(raw)

    async def get_rel(self, tenant: str, start_id: str, rel_type: str, end_id: str) -> RelOut:
        check_rel_type(rel_type)
        raw = await self.repo.get_rel(tenant, start_id, rel_type, end_id)
        if raw is None:
            raise NotFound(f"no relationship {start_id}-{rel_type}->{end_id}")
        return rel_out(raw)

    async def neighbours(self, tenant: str, node_id: str, *, depth: int,
                         direction: Direction, types: list[str] | None,
                         labels: list[str] | None, limit: int,
                         cursor: str | None) -> NeighbourPage:
        depth, limit, skip = self.depth(depth), self.limit(limit), decode_cursor(cursor)
        types = [check_rel_type(t, "types") for t in types] if types else None
        labels = check_labels(labels, "labels") if labels else None
        key = ("neighbours", node_id, depth, direction.value, types, labels, skip, limit)
        rows = await self.cache.get_or_load(tenant, key, lambda: self.repo.neighbours(
            tenant, node_id, depth, direction, types, labels, skip, limit + 1))
        if not rows and skip == 0:
            await self.get_node(tenant, node_id)  # 404 when the start node is unknown
        items = [Neighbour(node=node_out(r), depth=int(r["depth"])) for r in rows[:limit]]
        nxt = encode_cursor(skip + limit) if len(rows) > limit else None
        return NeighbourPage(items=items, next_cursor=nxt)

    async def shortest_path(self, tenant: str, from_id: str, to_id: str,
                            max_depth: int) -> PathOut:
        max_depth = self.bound("max_depth", max_depth, self.settings.max_depth, "max_depth")
        if from_id == to_id:
            node = await self.get_node(tenant, from_id)
            return PathOut(length=0, nodes=[node], relationships=[])
        raw = await self.cache.get_or_load(
            tenant, ("path", from_id, to_id, max_depth),
            lambda: self.repo.shortest_path(tenant, from_id, to_id, max_depth))
        if raw is None:
            raise NotFound(f"no path from {from_id} to {to_id} within {max_depth} hops")
        return PathOut(length=len(raw["rels"]), nodes=[node_out(n) for n in raw["nodes"]],
                       relationships=[rel_out(r) for r in raw["rels"]])

    async def subgraph(self, tenant: str, node_id: str, depth: int, limit: int) -> Subgraph:
        depth = self.depth(depth)
        limit = self.bound("limit", limit, self.settings.max_subgraph_nodes,
                           "max_subgraph_nodes")

        async def load() -> dict[str, Any]:
            root = await self.repo.get_node(tenant, node_id)
            if root is None:
                return {}
            around = await self.repo.neighbours(tenant, node_id, depth, Direction.BOTH,
                                                None, None, 0, limit)
            nodes = [root, *around[: limit - 1]]
            ids = [str(n["props"]["id"]) for n in nodes]
            rels = await self.repo.rels_among(tenant, ids)
            return {"nodes": nodes, "rels": rels, "truncated": len(around) >= limit}

        raw = await self.cache.get_or_load(tenant, ("subgraph", node_id, depth, limit), load)
        if not raw:
            raise NotFound(f"no node {node_id}")
        return Subgraph(root=node_id, nodes=[node_out(n) for n in raw["nodes"]],
                        relationships=[rel_out(r) for r in raw["rels"]],
                        truncated=bool(raw["truncated"]))

    async def person_view(self, tenant: str, person_id: str, view: PersonView,
                          limit: int) -> PersonViewOut:
        limit = self.limit(limit)
        rows = await self.cache.get_or_load(
            tenant, ("person", person_id, view.value, limit),
            lambda: self.repo.person_view(tenant, person_id, view.value, limit))
        return PersonViewOut(person_id=person_id, view=view,
                             items=[node_out(r) for r in rows])
