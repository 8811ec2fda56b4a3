"""The receipt every service answers to `POST /v1/admin/persons/{person_id}/erasure`: one
shape on all four, which `unison-admin erase-person` collects and signs."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class ErasureReceipt(BaseModel):
    service: str = Field(description="the service that erased (storage, context, ...)")
    tenant_id: str
    person_id: str
    removed: dict[str, int] = Field(
        description="rows, nodes or items removed per domain (storage's evals and vectors: "
                    "also the household records whose author id was replaced)")
    keys_destroyed: int = Field(description="the person's data keys deleted")
    caches_purged: int = Field(description="the person's cache entries deleted")
    completed_at: datetime
