"""IntentInstance rules: the lifecycle (an illegal transition is 409 naming the current
state), handlers (routing names one), lineage along TRIGGERED, produced resources.
Every write bumps the tenant's cache generation, so routing candidates and traversals
cached before it are never served after it."""

from __future__ import annotations

import uuid

from unison_shared.errors import Conflict, NotFound, ValidationFailed
from unison_shared.graph import GraphSettings
from unison_shared.graph_api.service import node_out
from unison_shared.graph_cache import GraphCache
from unison_shared.graph_schema import check_props

from .repository import IntentRepository
from .schemas import (
    TRANSITIONS,
    Handler,
    IntentCreate,
    IntentOut,
    IntentState,
    Lineage,
    LineageItem,
    Produced,
    Transition,
)

_INTERNAL = {"tenant", "id", "type", "state", "created_at", "updated_at"}


class IntentService:
    def __init__(self, repo: IntentRepository, cache: GraphCache,
                 settings: GraphSettings) -> None:
        self.repo = repo
        self.cache = cache
        self.settings = settings

    async def create(self, tenant: str, body: IntentCreate) -> IntentOut:
        props = check_props({k: v for k, v in {"confidence": body.confidence,
                                               "storage_id": body.storage_id}.items()
                             if v is not None})
        check_props({"type": body.type})
        intent_id = body.id or uuid.uuid4().hex
        try:
            created = await self.repo.create(tenant, intent_id, body.type, props,
                                             body.person_id, body.device_id, body.parent_id,
                                             body.policy_group_id)
        finally:
            await self.cache.invalidate(tenant)
        if not created:
            if body.parent_id and await self.repo.get(tenant, body.parent_id) is None:
                raise NotFound(f"no parent intent {body.parent_id}")
            raise Conflict("an id of this intent (its own, the person's, the device's or "
                           "the policy group's) is the id of a node with another label")
        return await self.get(tenant, intent_id)

    async def get(self, tenant: str, intent_id: str) -> IntentOut:
        row = await self.repo.get(tenant, intent_id)
        if row is None:
            raise NotFound(f"no intent {intent_id}")
        props = row["i"]
        return IntentOut(
            id=intent_id, type=props.get("type"), state=IntentState(props["state"]),
            person_id=row.get("person_id"),
            handlers=sorted((Handler(id=h["id"], labels=sorted(h["labels"]))
                             for h in row["handlers"] if h.get("id")), key=lambda h: h.id),
            props={k: v for k, v in props.items() if k not in _INTERNAL},
            created_at=props.get("created_at"), updated_at=props.get("updated_at"))

    async def transition(self, tenant: str, intent_id: str, body: Transition) -> IntentOut:
        if body.state is IntentState.ROUTED and not body.handler_id:
            raise ValidationFailed("handler_id: routing names the Agent or Skill that "
                                   "handles the intent", field="handler_id")
        allowed_from = [s.value for s, targets in TRANSITIONS.items() if body.state in targets]
        try:
            applied = await self.repo.transition(tenant, intent_id, allowed_from,
                                                 body.state.value, body.handler_id,
                                                 body.handler_label)
        finally:
            await self.cache.invalidate(tenant)
        if not applied:
            current = await self.get(tenant, intent_id)  # 404 when unknown
            if body.state in TRANSITIONS[current.state]:
                raise Conflict(f"handler_id {body.handler_id} is the id of a node that is "
                               f"not a {body.handler_label}", field="handler_id")
            raise Conflict(f"intent {intent_id} is {current.state.value}: it cannot become "
                           f"{body.state.value}", state=current.state.value,
                           allowed=sorted(t.value for t in TRANSITIONS[current.state]))
        return await self.get(tenant, intent_id)

    async def link_handler(self, tenant: str, intent_id: str, handler_id: str) -> None:
        """The legacy link: the agent HANDLES the intent; a created intent is routed."""
        try:
            linked = await self.repo.add_handler(tenant, intent_id, handler_id, "Agent")
            if linked:
                await self.repo.transition(tenant, intent_id, ["created"], "routed", None,
                                           "Agent")
        finally:
            await self.cache.invalidate(tenant)
        if not linked:
            raise Conflict(f"agent_id {handler_id} is the id of a node that is not an Agent",
                           field="agent_id")

    async def produced(self, tenant: str, intent_id: str, body: Produced) -> IntentOut:
        if body.storage_id is not None:
            check_props({"storage_id": body.storage_id})
        try:
            found = await self.repo.produced(tenant, intent_id, body.resource_id,
                                             body.storage_id)
        finally:
            await self.cache.invalidate(tenant)
        if not found:
            raise NotFound(f"no intent {intent_id}")
        return await self.get(tenant, intent_id)

    async def lineage(self, tenant: str, intent_id: str, depth: int,
                      direction: str) -> Lineage:
        if depth < 1:
            raise ValidationFailed("depth: must be at least 1", field="depth")
        if depth > self.settings.max_depth:
            raise ValidationFailed(f"depth {depth} exceeds the limit of "
                                   f"{self.settings.max_depth} (max_depth)", field="depth",
                                   limit=self.settings.max_depth)
        await self.get(tenant, intent_id)

        async def side(up: bool) -> list[LineageItem]:
            rows = await self.cache.get_or_load(
                tenant, ("lineage", intent_id, depth, up),
                lambda: self.repo.lineage(tenant, intent_id, depth, up))
            return [LineageItem(node=node_out(r["n"]), distance=int(r["distance"]))
                    for r in rows]

        return Lineage(intent_id=intent_id,
                       ancestors=await side(True) if direction in ("up", "both") else [],
                       descendants=await side(False) if direction in ("down", "both")
                       else [])
