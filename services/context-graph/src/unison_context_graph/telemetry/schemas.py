"""The actuation telemetry body: the fields the actuation service sends, and any more."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from unison_shared.graph_api.schemas import NodeId


class Actuation(BaseModel):
    model_config = ConfigDict(extra="allow")
    action_id: NodeId | None = None
    person_id: NodeId | None = None
    correlation_id: str | None = Field(default=None, max_length=200)
    intent: str | None = None
    target: str | dict[str, object] | None = None
    risk_level: str | None = None
    actuation_status: str | None = None
