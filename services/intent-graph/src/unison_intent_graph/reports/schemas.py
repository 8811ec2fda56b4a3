"""The gesture selection body (contract.md § intent-graph)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from unison_shared.graph_api.schemas import NodeId


class GestureSelect(BaseModel):
    model_config = ConfigDict(extra="allow")
    person_id: NodeId | None = None
    card_id: NodeId
    card_title: str | None = Field(default=None, max_length=2000)
