"""The erasure receipt (the same shape from every service, unison-admin collects them)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class ErasureReceipt(BaseModel):
    service: str = "storage"
    tenant_id: str
    person_id: str
    removed: dict[str, int] = Field(
        description="rows or items removed per domain (evals, vectors: also the household "
                    "records whose author id was replaced)")
    keys_destroyed: int = Field(description="the person's data keys deleted")
    caches_purged: int = Field(description="the person's Redis cache entries deleted")
    completed_at: datetime
