"""The erasure receipt (the same shape on all four services)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class ErasureReceipt(BaseModel):
    service: str
    tenant_id: str
    person_id: str
    removed: dict[str, int]
    keys_destroyed: int
    caches_purged: int
    completed_at: datetime
