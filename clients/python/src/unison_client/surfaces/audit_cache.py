"""The audit log and the TTL cache."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from .._http import route
from ..errors import NotFoundError
from ..models import (
    AuditEvent,
    AuditEventIn,
    AuditPage,
    CacheCleanup,
    CacheEntry,
    CachePut,
    Checkpoint,
    CheckpointPage,
    VerifyRequest,
    VerifyResult,
)
from ._base import Surface, body, parse

AUDIT_APPEND = route("POST", "/v1/audit")
AUDIT_LIST = route("GET", "/v1/audit")
AUDIT_GET = route("GET", "/v1/audit/{event_id}")
AUDIT_VERIFY = route("POST", "/v1/audit/verify")
AUDIT_CHECKPOINTS = route("GET", "/v1/audit/checkpoints")
AUDIT_CHECKPOINT = route("POST", "/v1/audit/checkpoints")


class Audit(Surface):
    """The append-only, hash-chained audit log."""

    async def append(
        self,
        action: str,
        *,
        id: str | None = None,
        actor: str | None = None,
        target: str | None = None,
        decision_id: str | None = None,
        status: str | None = None,
        person_id: str | None = None,
        payload: dict[str, Any] | None = None,
    ) -> AuditEvent:
        """Append an event. `id` is its idempotency key; the client picks one when none is
        given, so a retried append never records the event twice."""
        model = AuditEventIn.model_construct(
            id=id or str(uuid.uuid4()),
            actor=actor,
            action=action,
            target=target,
            decision_id=decision_id,
            status=status,
            person_id=person_id,
            payload=payload or {},
        )
        r = await self._http.request(AUDIT_APPEND, json=body(model), idempotent=True)
        return parse(AuditEvent, r.content)

    async def get(self, event_id: str) -> AuditEvent:
        r = await self._http.request(AUDIT_GET, {"event_id": event_id})
        return parse(AuditEvent, r.content)

    async def list(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        target: str | None = None,
        person_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        order: Literal["desc", "asc"] = "desc",
        cursor: str | None = None,
        limit: int = 100,
    ) -> AuditPage:
        r = await self._http.request(
            AUDIT_LIST,
            query={
                "actor": actor,
                "action": action,
                "target": target,
                "person_id": person_id,
                "since": since,
                "until": until,
                "order": order,
                "cursor": cursor,
                "limit": limit,
            },
        )
        return parse(AuditPage, r.content)

    async def verify(self, checkpoint: Checkpoint | None = None) -> VerifyResult:
        """Recompute the tenant's chain (and hold it against a checkpoint kept earlier)."""
        r = await self._http.request(
            AUDIT_VERIFY,
            json=body(VerifyRequest.model_construct(checkpoint=checkpoint)),
            idempotent=True,
        )
        return parse(VerifyResult, r.content)

    async def checkpoint(self) -> Checkpoint:
        """Sign the chain head now; keep the result to verify against later."""
        r = await self._http.request(AUDIT_CHECKPOINT, idempotent=True)
        return parse(Checkpoint, r.content)

    async def checkpoints(self, *, cursor: str | None = None, limit: int = 100) -> CheckpointPage:
        r = await self._http.request(AUDIT_CHECKPOINTS, query={"cursor": cursor, "limit": limit})
        return parse(CheckpointPage, r.content)


CACHE_GET = route("GET", "/v1/cache/{key}")
CACHE_PUT = route("PUT", "/v1/cache/{key}")
CACHE_DELETE = route("DELETE", "/v1/cache/{key}")
CACHE_CLEANUP = route("POST", "/v1/cache/cleanup")


class Cache(Surface):
    """A TTL cache (Redis behind the service). A miss is None, not an exception; writes
    raise ConnectionError while the service's Redis is down (503)."""

    async def entry(self, key: str) -> CacheEntry | None:
        """The entry with its TTL and times, or None on a miss."""
        try:
            r = await self._http.request(CACHE_GET, {"key": key})
        except NotFoundError:
            return None
        return parse(CacheEntry, r.content)

    async def get(self, key: str) -> str | None:
        """A text value, or None on a miss (TypeError if the value is not text)."""
        entry = await self.entry(key)
        if entry is None:
            return None
        if not isinstance(entry.value, str):
            raise TypeError(f"cache value of {key!r} is not text; use get_json")
        return entry.value

    async def set(self, key: str, value: str, *, ttl: int | None = None) -> CacheEntry:
        """Store text for `ttl` seconds (the service's default without one, capped at its
        maximum)."""
        if not isinstance(value, str):
            raise TypeError("Cache.set stores text; use set_json for other values")
        return await self.set_json(key, value, ttl=ttl)

    async def get_json(self, key: str, default: Any = None) -> Any:
        """Any JSON value, or `default` on a miss."""
        entry = await self.entry(key)
        return default if entry is None else entry.value

    async def set_json(self, key: str, value: Any, *, ttl: int | None = None) -> CacheEntry:
        r = await self._http.request(
            CACHE_PUT,
            {"key": key},
            json=body(CachePut.model_construct(value=value, ttl=ttl), unset=True),
            idempotent=True,
        )
        return parse(CacheEntry, r.content)

    async def delete(self, key: str) -> bool:
        """True when an entry was deleted, False when there was none."""
        try:
            await self._http.request(CACHE_DELETE, {"key": key})
        except NotFoundError:
            return False
        return True

    async def cleanup(self) -> int:
        r = await self._http.request(CACHE_CLEANUP, idempotent=True)
        return parse(CacheCleanup, r.content).deleted
