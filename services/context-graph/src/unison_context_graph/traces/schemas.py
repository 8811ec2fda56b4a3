"""Bodies of the legacy trace routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from unison_shared.graph_api.schemas import NodeId

MAX_EVENTS = 1000


class TraceEvent(BaseModel):
    event: str = Field(min_length=1, max_length=200)
    metadata: dict[str, Any] = Field(default_factory=dict)
    timestamp: datetime | None = None


class TraceReplay(BaseModel):
    user_id: NodeId
    trace: list[TraceEvent] = Field(max_length=MAX_EVENTS)


class TraceSearch(BaseModel):
    user_id: NodeId
    tags: list[str] | None = None
    since: datetime | None = None
    limit: int = Field(default=50, ge=1, le=500)
