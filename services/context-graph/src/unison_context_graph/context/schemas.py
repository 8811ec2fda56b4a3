"""Bodies of the legacy context routes (contract.md § context-graph)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from unison_shared.graph_api.schemas import NodeId


class Dimension(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str = Field(min_length=1, max_length=200)
    value: Any = None


class ContextUpdate(BaseModel):
    user_id: NodeId
    session_id: NodeId | None = None
    dimensions: list[Dimension] = Field(default_factory=list, max_length=1000)
    preferences: dict[str, Any] | None = None


class ContextQuery(BaseModel):
    user_id: NodeId
