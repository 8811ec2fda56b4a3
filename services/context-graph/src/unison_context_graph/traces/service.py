"""Trace replay and search. Each event's content (transcripts, cards) is written to
storage under a key derived from the event itself, so a replayed trace is idempotent;
only then does one Cypher statement index every event (storage down: 503, nothing in
the graph). Search walks the index newest first and reads the content to match tags."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime
from typing import Any

import orjson

from unison_shared.errors import Conflict
from unison_shared.graph_cache import GraphCache
from unison_shared.graph_schema import looks_like_content
from unison_shared.storage_client import CallerIdentity, StorageClient, parse_storage_id

from ..context.service import ContextService, default_state
from .repository import TraceRepository
from .schemas import TraceEvent

NAMESPACE = "context-graph.traces"
SEARCH_PAGE = 200
SEARCH_MAX_SCANNED = 5000


def _ms(ts: datetime) -> int:
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return int(ts.timestamp() * 1000)


def event_id(user_id: str, event: TraceEvent, ts_ms: int) -> str:
    canonical = orjson.dumps([user_id, event.event, ts_ms, event.metadata],
                             option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.sha256(canonical).hexdigest()[:32]


class TraceService:
    def __init__(self, repo: TraceRepository, storage: StorageClient,
                 context: ContextService, cache: GraphCache) -> None:
        self.repo = repo
        self.storage = storage
        self.context = context
        self.cache = cache

    async def replay(self, who: CallerIdentity, user_id: str,
                     events: list[TraceEvent]) -> dict[str, Any]:
        now = datetime.now(UTC)
        rows: list[dict[str, Any]] = []
        writes = []
        for event in events:
            ts = event.timestamp or now
            ts_ms = _ms(ts)
            eid = event_id(user_id, event, ts_ms)
            content = {"event": event.event, "metadata": event.metadata,
                       "timestamp": ts.isoformat()}
            writes.append((f"{user_id}:{eid}", content))
            kind = event.event if looks_like_content(event.event) is None else None
            rows.append({"id": f"trace:{eid}", "ts": ts_ms, "kind": kind,
                         "storage_id": f"kv:{NAMESPACE}/{user_id}:{eid}"})
        gate = asyncio.Semaphore(8)

        async def put(key: str, content: dict[str, Any]) -> None:
            async with gate:
                await self.storage.put(who, NAMESPACE, key, content)

        await asyncio.gather(*(put(k, c) for k, c in writes))
        if rows:
            try:
                recorded = await self.repo.record(who.tenant, user_id, rows)
            finally:
                await self.cache.invalidate(who.tenant)
            if not recorded:
                raise Conflict("user_id is the id of a node that is not a Person",
                               field="user_id")
        return await self.context.query(who, user_id) or default_state(user_id)

    async def search(self, who: CallerIdentity, user_id: str, tags: list[str] | None,
                     since: datetime | None, limit: int) -> list[dict[str, Any]]:
        wanted = set(tags or [])
        since_ms = _ms(since) if since else 0
        found: list[dict[str, Any]] = []
        skip = 0
        while len(found) < limit and skip < SEARCH_MAX_SCANNED:
            refs = await self.repo.page(who.tenant, user_id, since_ms, skip, SEARCH_PAGE)
            if not refs:
                break
            keys = [parse_storage_id(ref)[1] for ref in refs]
            contents = await self.storage.get_many(who, NAMESPACE, keys)
            for key in keys:
                item = contents.get(key)
                if not isinstance(item, dict):
                    continue
                item_tags = (item.get("metadata") or {}).get("tags") or []
                if wanted and not (isinstance(item_tags, list) and wanted & set(
                        t for t in item_tags if isinstance(t, str))):
                    continue
                found.append({"timestamp": item.get("timestamp"), "event": item.get("event"),
                              "metadata": item.get("metadata") or {}})
                if len(found) >= limit:
                    break
            skip += SEARCH_PAGE
        return found
