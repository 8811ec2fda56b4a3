"""Actuation telemetry: the record goes to storage, its id to the graph."""

from __future__ import annotations

import uuid

from unison_shared.errors import Conflict
from unison_shared.graph_cache import GraphCache
from unison_shared.storage_client import CallerIdentity, StorageClient

from .repository import TelemetryRepository
from .schemas import Actuation

NAMESPACE = "context-graph.actuation"


class TelemetryService:
    def __init__(self, repo: TelemetryRepository, storage: StorageClient,
                 cache: GraphCache) -> None:
        self.repo = repo
        self.storage = storage
        self.cache = cache

    async def record(self, who: CallerIdentity, body: Actuation) -> str:
        action_id = body.action_id or uuid.uuid4().hex
        content = body.model_dump(mode="json") | {"action_id": action_id}
        sid = await self.storage.put(who, NAMESPACE, action_id, content)
        try:
            recorded = await self.repo.record(who.tenant, action_id, sid, body.person_id)
        finally:
            await self.cache.invalidate(who.tenant)
        if not recorded:
            raise Conflict("person_id is the id of a node that is not a Person",
                           field="person_id")
        return action_id
