"""Audit rules (placeholder until the audit domain lands; the signature of `append` is
fixed: other domains, such as the vault, call it inside their own transaction)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from ..database import Database
from .schemas import AuditEvent, AuditEventIn


class AuditService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def append(self, conn: AsyncConnection, tenant_id: str,
                     event: AuditEventIn) -> AuditEvent:
        """Append one event to the tenant's hash chain inside the caller's transaction."""
        raise NotImplementedError("audit domain not built yet")
