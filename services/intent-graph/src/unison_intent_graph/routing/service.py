"""Ranking handlers of an intent type. The score weighs the success rate (completed
over finished, smoothed so one success is not a perfect record: (ok+1)/(ok+failed+2)),
recency (halving every 7 days since the handler last handled one), and affinity to the
person and device asking. Cached under `intent:cache:*` with a short TTL; every write
of the tenant invalidates it."""

from __future__ import annotations

import time
from typing import Any

from unison_shared.graph_cache import GraphCache
from unison_shared.graph_schema import check_props

from .repository import RoutingRepository
from .schemas import Candidate, Candidates

HALF_LIFE_MS = 7 * 24 * 3600 * 1000
W_SUCCESS, W_RECENCY, W_PERSON, W_DEVICE = 0.6, 0.2, 0.15, 0.05


def score(row: dict[str, Any], now_ms: int) -> Candidate:
    handled, ok, failed = int(row["handled"]), int(row["completed"]), int(row["failed"])
    success = (ok + 1) / (ok + failed + 2)
    last = row.get("last")
    recency = 0.5 ** (max(0, now_ms - int(last)) / HALF_LIFE_MS) if last else 0.0
    mine, here = int(row["mine"]), int(row["here"])
    value = (W_SUCCESS * success + W_RECENCY * recency + W_PERSON * (mine / handled if
             handled else 0) + W_DEVICE * (here / handled if handled else 0))
    return Candidate(id=str(row["id"]), labels=sorted(row["labels"]), score=round(value, 6),
                     handled=handled, completed=ok, failed=failed,
                     success_rate=round(ok / (ok + failed), 6) if ok + failed else 0.0,
                     last_handled_at=int(last) if last else None, for_person=mine,
                     on_device=here)


class RoutingService:
    def __init__(self, repo: RoutingRepository, cache: GraphCache) -> None:
        self.repo = repo
        self.cache = cache

    async def candidates(self, tenant: str, intent_type: str, person_id: str | None,
                         device_id: str | None, limit: int) -> Candidates:
        check_props({"type": intent_type}, "query")
        rows = await self.cache.get_or_load(
            tenant, ("candidates", intent_type, person_id, device_id),
            lambda: self.repo.handler_stats(tenant, intent_type, person_id, device_id))
        now = int(time.time() * 1000)
        ranked = sorted((score(r, now) for r in rows), key=lambda c: (-c.score, c.id))
        return Candidates(intent_type=intent_type, candidates=ranked[:limit])
