"""Capabilities: a device manifest (`modalities`) or the orchestrator's published tool
list (`capabilities`), per person (or per tenant for a caller that names nobody). Both
are content: stored in storage (check-and-set, so a tool list and a manifest posted
together both land), referenced from a Resource node, read through `context:cache`."""

from __future__ import annotations

from typing import Any

from unison_shared.errors import Conflict
from unison_shared.graph_cache import GraphCache
from unison_shared.storage_client import (
    CallerIdentity,
    StorageClient,
    VersionMismatch,
    parse_storage_id,
)

from ..context.service import now_iso
from .repository import CapabilityRepository

NAMESPACE = "context-graph.capabilities"
TENANT_OWNER = "_tenant"


def default_manifest() -> dict[str, Any]:
    return {"modalities": {"displays": []}}


class CapabilityService:
    def __init__(self, repo: CapabilityRepository, storage: StorageClient,
                 cache: GraphCache) -> None:
        self.repo = repo
        self.storage = storage
        self.cache = cache

    async def publish(self, who: CallerIdentity, person_id: str | None,
                      body: dict[str, Any]) -> dict[str, Any]:
        owner = person_id or TENANT_OWNER
        for _ in range(6):
            found = await self.storage.get_versioned(who, NAMESPACE, owner)
            doc, etag = found if found is not None else ({}, None)
            doc = dict(doc) if isinstance(doc, dict) else {}
            if isinstance(body.get("capabilities"), list):
                doc["capabilities"] = body["capabilities"]
                rest = {k: v for k, v in body.items() if k != "capabilities"}
                if rest.get("modalities") is not None:
                    doc["manifest"] = rest
            else:
                doc["manifest"] = body
            doc["updated_at"] = now_iso()
            try:
                sid = await self.storage.put(who, NAMESPACE, owner, doc, if_match=etag,
                                             create_only=etag is None)
            except VersionMismatch:
                continue
            break
        else:
            raise Conflict("the capabilities kept changing under this update; retry")
        try:
            recorded = await self.repo.record(who.tenant, owner, sid, person_id)
        finally:
            await self.cache.invalidate(who.tenant)
        if not recorded:
            raise Conflict("person_id is the id of a node that is not a Person",
                           field="person_id")
        return doc

    async def get(self, who: CallerIdentity, person_id: str | None) -> dict[str, Any]:
        owner = person_id or TENANT_OWNER

        async def load() -> dict[str, Any]:
            ref = await self.repo.ref(who.tenant, owner)
            if ref is None:
                return {}
            namespace, key = parse_storage_id(ref)
            value = await self.storage.get(who, namespace, key)
            return value if isinstance(value, dict) else {}

        doc = await self.cache.get_or_load(who.tenant, ("capabilities", owner), load)
        out: dict[str, Any] = {"manifest": doc.get("manifest") or default_manifest()}
        if isinstance(doc.get("capabilities"), list):
            out["capabilities"] = doc["capabilities"]
        return out
