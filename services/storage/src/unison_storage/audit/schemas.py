"""Audit event models."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class AuditEventIn(BaseModel):
    """An event to append. `id` is the caller's idempotency key (a retry with the same id
    returns the first event instead of appending twice)."""

    id: str | None = Field(default=None, max_length=128)
    actor: str | None = Field(default=None, max_length=256)
    action: str = Field(min_length=1, max_length=128)
    target: str | None = Field(default=None, max_length=512)
    decision_id: str | None = Field(default=None, max_length=128)
    status: str | None = Field(default=None, max_length=64)
    person_id: str | None = Field(default=None, max_length=128)
    payload: dict[str, Any] = Field(default_factory=dict)


class AuditEvent(AuditEventIn):
    id: str
    seq: int
    created_at: datetime
    prev_hash: str
    hash: str
