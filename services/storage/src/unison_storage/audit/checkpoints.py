"""Signed checkpoints of each tenant's audit chain (signing.py says what they prove).

Made on demand (`POST /v1/audit/checkpoints`) and by a background job that signs every
head no checkpoint covers yet (system role, one replica at a time). `verify` holds the
chain against every stored checkpoint signed with the platform's key and against one a
caller kept from earlier.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from datetime import UTC, datetime

from unison_shared.auth import RequestContext
from unison_shared.database import Database
from unison_shared.errors import BadRequest, NotFound, ValidationFailed

from . import checkpoint_repository as repo
from . import repository as events
from .checkpoint_repository import CheckpointRow
from .schemas import Checkpoint, CheckpointPage, VerifyResult
from .service import AuditService
from .signing import SigningKey, checkpoint_message, signature_valid

logger = logging.getLogger("unison.storage.audit.checkpoints")
LOCK_NAME = "unison:audit-checkpoints"
BATCH = 500


def to_checkpoint(row: CheckpointRow) -> Checkpoint:
    return Checkpoint(seq=row.seq, hash=row.hash, signed_at=row.signed_at, key_id=row.key_id,
                      signature=base64.b64encode(row.signature).decode())


class CheckpointService:
    def __init__(self, db: Database, key: SigningKey) -> None:
        self.db = db
        self.key = key

    def _sign(self, tenant: str, seq: int, head_hash: str) -> CheckpointRow:
        at = datetime.now(UTC)
        signature = self.key.sign(checkpoint_message(tenant, seq, head_hash, at))
        return CheckpointRow(seq, head_hash, at, self.key.key_id, signature)

    def authentic(self, tenant: str, cp: Checkpoint) -> bool:
        """Signed by the platform's key over exactly these values for this tenant."""
        if cp.key_id != self.key.key_id:
            return False
        try:
            signature = base64.b64decode(cp.signature, validate=True)
        except (binascii.Error, ValueError):
            return False
        return signature_valid(self.key.public_b64, signature,
                               checkpoint_message(tenant, cp.seq, cp.hash, cp.signed_at))

    async def create(self, ctx: RequestContext) -> Checkpoint:
        async with self.db.statement(ctx) as conn:
            head = await events.get_head(conn, ctx.tenant_id)
            if head is None or head.seq == 0:
                raise NotFound("no audit events to checkpoint yet")
            row = self._sign(ctx.tenant_id, head.seq, head.hash)
            await repo.insert(conn, ctx.tenant_id, row)
        return to_checkpoint(row)

    async def page(self, ctx: RequestContext, cursor: str | None,
                   limit: int) -> CheckpointPage:
        before: int | None = None
        if cursor is not None:
            if not cursor.isdigit():
                raise BadRequest("cursor: not one this service issued")
            before = int(cursor)
        async with self.db.statement(ctx) as conn:
            rows = await repo.page(conn, ctx.tenant_id, before, limit)
        return CheckpointPage(items=[to_checkpoint(r) for r in rows],
                              next_cursor=str(rows[-1].seq) if len(rows) == limit else None,
                              key_id=self.key.key_id, public_key=self.key.public_b64)

    async def stored(self, ctx: RequestContext) -> list[Checkpoint]:
        async with self.db.statement(ctx) as conn:
            return [to_checkpoint(r) for r in await repo.all_of(conn, ctx.tenant_id)]

    async def verify(self, ctx: RequestContext, audit: AuditService,
                     kept: Checkpoint | None) -> VerifyResult:
        """The chain, held against every stored checkpoint and the one the caller kept.
        A kept checkpoint that is not the platform's is the caller's error (422); a
        stored one that is not fails the verdict (someone wrote it into the table)."""
        if kept is not None and not self.authentic(ctx.tenant_id, kept):
            raise ValidationFailed("checkpoint: not signed by this platform's key for "
                                   "this tenant")
        pinned: dict[int, str] = {}
        checkpoints = await self.stored(ctx)
        for cp in [*checkpoints, *([kept] if kept else [])]:
            if not self.authentic(ctx.tenant_id, cp):
                return VerifyResult(valid=False, checked=0, first_broken_seq=cp.seq,
                                    reason=f"the stored checkpoint at event {cp.seq} is "
                                           "not signed by this platform's key")
            if pinned.setdefault(cp.seq, cp.hash) != cp.hash:
                return VerifyResult(valid=False, checked=0, first_broken_seq=cp.seq,
                                    reason=f"two signed checkpoints disagree at event "
                                           f"{cp.seq}")
        result = await audit.verify(ctx, pinned)
        return result.model_copy(update={"checkpoints_checked": len(pinned)})

    async def sign_new_heads(self) -> int:
        """The background job's one pass: sign every head not yet checkpointed."""
        signed = 0
        async with self.db.exclusive(LOCK_NAME) as taken:
            if not taken:
                return 0
            while True:
                async with self.db.system() as conn:
                    heads = await repo.unsigned_heads(conn, BATCH)
                    for tenant, seq, head_hash in heads:
                        await repo.insert(conn, tenant, self._sign(tenant, seq, head_hash))
                signed += len(heads)
                if len(heads) < BATCH:
                    return signed


async def run_schedule(service: CheckpointService, interval: float) -> None:
    """Sign new heads every `interval` seconds until cancelled; a failed pass is logged
    and retried at the next interval."""
    while True:
        await asyncio.sleep(interval)
        try:
            signed = await service.sign_new_heads()
            if signed:
                logger.info("signed audit checkpoints", extra={"count": signed})
        except Exception as exc:  # the next pass retries; never kill the loop
            logger.warning("audit checkpoint pass failed: %s", type(exc).__name__)
