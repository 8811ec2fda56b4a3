"""Capability and gesture reports. Both are content (a gesture carries the card's
title): the report goes to storage, per person when the token names one (else per
tenant), and a Resource node keeps its storage id; the latest is read through
`intent:cache:*`. Storage down: 503, nothing written to the graph."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from unison_shared.errors import Conflict
from unison_shared.graph_cache import GraphCache
from unison_shared.graph_schema import looks_like_content
from unison_shared.storage_client import CallerIdentity, StorageClient, parse_storage_id

from .repository import ReportRepository
from .schemas import GestureSelect

NAMESPACE = "intent-graph.reports"
TENANT_OWNER = "_tenant"


class ReportService:
    def __init__(self, repo: ReportRepository, storage: StorageClient,
                 cache: GraphCache) -> None:
        self.repo = repo
        self.storage = storage
        self.cache = cache

    async def _store(self, who: CallerIdentity, kind: str, person_id: str | None,
                     content: dict[str, Any], props: dict[str, Any]) -> None:
        owner = person_id or TENANT_OWNER
        sid = await self.storage.put(who, NAMESPACE, f"{kind}:{owner}", content)
        try:
            recorded = await self.repo.record(who.tenant, kind, owner, sid, person_id, props)
        finally:
            await self.cache.invalidate(who.tenant)
        if not recorded:
            raise Conflict("person_id is the id of a node that is not a Person",
                           field="person_id")

    async def _latest(self, who: CallerIdentity, kind: str,
                      person_id: str | None) -> dict[str, Any] | None:
        owner = person_id or TENANT_OWNER

        async def load() -> dict[str, Any] | None:
            ref = await self.repo.ref(who.tenant, kind, owner)
            if ref is None:
                return None
            namespace, key = parse_storage_id(ref)
            value = await self.storage.get(who, namespace, key)
            return value if isinstance(value, dict) else None

        return await self.cache.get_or_load(who.tenant, ("report", kind, owner), load)

    async def report_caps(self, who: CallerIdentity, person_id: str | None,
                          caps: dict[str, Any]) -> str:
        updated_at = datetime.now(UTC).isoformat()
        await self._store(who, "caps", person_id, {"caps": caps, "updated_at": updated_at},
                          {})
        return updated_at

    async def latest_caps(self, who: CallerIdentity,
                          person_id: str | None) -> dict[str, Any] | None:
        return await self._latest(who, "caps", person_id)

    async def select_gesture(self, who: CallerIdentity, person_id: str | None,
                             body: GestureSelect) -> str:
        ts = datetime.now(UTC).isoformat()
        gesture = {**body.model_dump(mode="json"), "ts": ts}
        props = {"card_id": body.card_id} if looks_like_content(body.card_id) is None else {}
        await self._store(who, "gesture", person_id, gesture, props)
        return ts

    async def latest_gesture(self, who: CallerIdentity,
                             person_id: str | None) -> dict[str, Any] | None:
        return await self._latest(who, "gesture", person_id)
