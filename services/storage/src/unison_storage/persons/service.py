"""Person erasure and export rules.

Erasure: one transaction in the tenant's scope deletes the person's rows of every domain
(repository.py), destroys their data keys and appends `person.erased` (counts only) to
the audit chain; after it commits, the object blobs go (a blob left by a crash is an
orphan the objects reconcile removes), this process forgets the person's keys and the
person's Redis cache entries go. A second erasure finds nothing and answers zeros.

Audit events are append-only and stay: they keep ids in clear and any free-form payload
about the person sealed under the person's key, which is destroyed here
(audit/sealing.py), so the chain still verifies and the payloads cannot be read back.

Export: who may take what is decided here; the stream itself is export.py.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from redis.asyncio import Redis
from redis.exceptions import RedisError

from unison_shared.auth import RequestContext, require_export_access, require_operator
from unison_shared.database import Database
from unison_shared.erasure import ErasureReceipt
from unison_shared.errors import BadRequest, DependencyUnavailable

from ..audit.schemas import AuditEventIn
from ..audit.service import AuditService
from ..keys.service import DataKeyService
from ..threads.payloads import Payloads
from . import repository
from .export import PersonExport

logger = logging.getLogger("unison.storage.persons")


def _event(ctx: RequestContext, action: str, **payload: object) -> AuditEventIn:
    return AuditEventIn(actor=ctx.principal.sub[:256] or None, action=action,
                        target=f"person:{ctx.person_id}", person_id=ctx.person_id,
                        status="ok", payload=payload)


def _person(ctx: RequestContext) -> str:
    if not ctx.person_id:
        raise BadRequest("person_id: required")
    return ctx.person_id


class PersonService:
    def __init__(self, db: Database, redis: Redis | None, keys: DataKeyService,
                 audit: AuditService, payloads: Payloads) -> None:
        self.db = db
        self.redis = redis
        self.keys = keys
        self.audit = audit
        self.payloads = payloads

    async def erase(self, ctx: RequestContext) -> ErasureReceipt:
        require_operator(ctx)
        tenant, person = ctx.tenant_id, _person(ctx)
        # Forgotten before as well as after: nothing in this process seals under the
        # person's keys while they are being destroyed.
        self.keys.forget_person(tenant, person)
        async with self.db.transaction(ctx) as conn:
            removed, blobs = await repository.delete_rows(conn, tenant, person)
            destroyed = await self.keys.destroy_person_keys(conn, tenant, person)
            # Counts only: the event names the person by id and holds nothing about them.
            await self.audit.append(conn, ctx, _event(ctx, "person.erased", removed=removed,
                                                      keys_destroyed=destroyed))
        self.keys.forget_person(tenant, person)
        await self.payloads.delete_blobs(blobs)
        purged = await self._purge_cache(tenant, person)
        logger.info("person erased", extra={"tenant_id": tenant, "person_id": person,
                                            "keys_destroyed": destroyed})
        return ErasureReceipt(service="storage", tenant_id=tenant, person_id=person,
                              removed=removed, keys_destroyed=destroyed, caches_purged=purged,
                              completed_at=datetime.now(UTC))

    async def _purge_cache(self, tenant: str, person: str) -> int:
        if self.redis is None:
            return 0  # no cache configured: nothing of the person can be in one
        try:
            return await repository.purge_cache(self.redis, tenant, person)
        except (RedisError, OSError, TimeoutError) as exc:
            # The rows are gone already; a retry of the erasure answers zeros for them
            # and purges the cache.
            raise DependencyUnavailable(
                "the person's records are erased but the cache (Redis) is unavailable: "
                "retry the erasure to purge their cache entries") from exc

    async def export(self, ctx: RequestContext, include_secrets: bool) -> AsyncIterator[bytes]:
        """The person's export as NDJSON lines; checks the caller first (before the
        response starts), then audits the export and returns the stream."""
        _person(ctx)
        require_export_access(ctx, include_secrets)
        async with self.db.statement(ctx) as conn:
            await self.audit.append(conn, ctx, _event(ctx, "person.exported",
                                                      include_secrets=include_secrets))
        return PersonExport(self.db, self.redis, self.keys, self.audit, self.payloads,
                            ctx, include_secrets).lines()
