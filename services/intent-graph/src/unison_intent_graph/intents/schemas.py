"""Request and response models of `/v1/intents`."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from unison_shared.graph_api.schemas import NodeId, NodeOut


class IntentState(StrEnum):
    CREATED = "created"
    ROUTED = "routed"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


# The lifecycle: created -> routed -> running -> completed | failed | cancelled.
TRANSITIONS: dict[IntentState, frozenset[IntentState]] = {
    IntentState.CREATED: frozenset({IntentState.ROUTED, IntentState.CANCELLED,
                                    IntentState.FAILED}),
    IntentState.ROUTED: frozenset({IntentState.RUNNING, IntentState.CANCELLED,
                                   IntentState.FAILED}),
    IntentState.RUNNING: frozenset({IntentState.COMPLETED, IntentState.FAILED,
                                    IntentState.CANCELLED}),
    IntentState.COMPLETED: frozenset(),
    IntentState.FAILED: frozenset(),
    IntentState.CANCELLED: frozenset(),
}

HandlerLabel = Literal["Agent", "Skill"]


class IntentCreate(BaseModel):
    id: NodeId | None = None
    type: str = Field(min_length=1, max_length=200, description="the intent type")
    person_id: NodeId | None = None
    device_id: NodeId | None = None
    parent_id: NodeId | None = Field(default=None, description="the intent that TRIGGERED it")
    policy_group_id: NodeId | None = None
    confidence: float | None = Field(default=None, ge=0, le=1)
    storage_id: str | None = Field(default=None, max_length=600)


class Transition(BaseModel):
    state: IntentState
    handler_id: NodeId | None = Field(default=None, description="required to route")
    handler_label: HandlerLabel = "Agent"


class Produced(BaseModel):
    resource_id: NodeId
    storage_id: str | None = Field(default=None, max_length=600)


class Handler(BaseModel):
    id: str
    labels: list[str]


class IntentOut(BaseModel):
    id: str
    type: str | None
    state: IntentState
    person_id: str | None = None
    handlers: list[Handler] = Field(default_factory=list)
    props: dict[str, Any] = Field(default_factory=dict)
    created_at: int | None = None
    updated_at: int | None = None


class LineageItem(BaseModel):
    node: NodeOut
    distance: int


class Lineage(BaseModel):
    intent_id: str
    ancestors: list[LineageItem]
    descendants: list[LineageItem]
