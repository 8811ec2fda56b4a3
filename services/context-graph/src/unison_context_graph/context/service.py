"""Context state rules: dimensions merge by name (the legacy service replaced the whole
list, a bug), preferences merge by key, `updated_at` is refreshed on every update.

The state is content: it is written to storage first (a check-and-set, so concurrent
updates all land), and only then is its storage id recorded on the Person node. Storage
down: 503 and the graph is untouched. Reads are cached under `context:cache:*`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from unison_shared.errors import Conflict
from unison_shared.graph_cache import GraphCache
from unison_shared.storage_client import (
    CallerIdentity,
    StorageClient,
    VersionMismatch,
    parse_storage_id,
)

from .repository import ContextRepository
from .schemas import ContextUpdate

NAMESPACE = "context-graph.state"
CAS_ATTEMPTS = 6


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def default_state(user_id: str) -> dict[str, Any]:
    return {"user_id": user_id, "dimensions": [], "preferences": {}, "updated_at": None}


def merge_state(current: dict[str, Any] | None, body: ContextUpdate) -> dict[str, Any]:
    state = dict(current or default_state(body.user_id))
    by_name = {d["name"]: d for d in state.get("dimensions") or [] if isinstance(d, dict)}
    for dim in body.dimensions:
        by_name[dim.name] = dim.model_dump()
    state["dimensions"] = list(by_name.values())
    prefs = dict(state.get("preferences") or {})
    prefs.update(body.preferences or {})
    state.update(user_id=body.user_id, preferences=prefs, updated_at=now_iso())
    if body.session_id:
        state["session_id"] = body.session_id
    return state


class ContextService:
    def __init__(self, repo: ContextRepository, storage: StorageClient,
                 cache: GraphCache) -> None:
        self.repo = repo
        self.storage = storage
        self.cache = cache

    async def update(self, who: CallerIdentity, body: ContextUpdate) -> dict[str, Any]:
        for _ in range(CAS_ATTEMPTS):
            found = await self.storage.get_versioned(who, NAMESPACE, body.user_id)
            current, etag = found if found is not None else (None, None)
            state = merge_state(current, body)
            try:
                sid = await self.storage.put(who, NAMESPACE, body.user_id, state,
                                             if_match=etag, create_only=etag is None)
            except VersionMismatch:
                continue
            break
        else:
            raise Conflict("the context state kept changing under this update; retry")
        try:
            recorded = await self.repo.record_state(who.tenant, body.user_id, sid,
                                                    body.session_id)
        finally:
            await self.cache.invalidate(who.tenant)
        if not recorded:
            raise Conflict("user_id or session_id is the id of a node with another label")
        return state

    async def query(self, who: CallerIdentity, user_id: str) -> dict[str, Any] | None:
        async def load() -> dict[str, Any] | None:
            ref = await self.repo.state_ref(who.tenant, user_id)
            if ref is None:
                return None
            namespace, key = parse_storage_id(ref)
            value = await self.storage.get(who, namespace, key)
            return value if isinstance(value, dict) else None

        return await self.cache.get_or_load(who.tenant, ("state", user_id), load)
