"""Workflow API shapes. Conditions and suspend reasons are unions on `kind`, so a 422
names the kind and the field that is missing or wrong."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Status = Literal["suspended", "resumable", "resumed", "rejected", "cancelled"]
Name = Annotated[str, Field(min_length=1, max_length=256)]
Target = Annotated[str, Field(min_length=1, max_length=1024)]
WorkflowId = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[\x21-\x7e]+$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EventCondition(_Strict):
    kind: Literal["event"]
    event_id: Name


class TimerCondition(_Strict):
    kind: Literal["timer"]
    at: AwareDatetime


class ApprovalCondition(_Strict):
    kind: Literal["approval"]


class VaultCondition(_Strict):
    kind: Literal["vault_secret_written"]
    name: Target


class ObjectCondition(_Strict):
    kind: Literal["object_stored"]
    object_id: Target


class KVCondition(_Strict):
    kind: Literal["kv_written"]
    namespace: Target
    key: Target


Condition = Annotated[EventCondition | TimerCondition | ApprovalCondition | VaultCondition
                      | ObjectCondition | KVCondition, Field(discriminator="kind")]
TimeoutMs = Annotated[int | None, Field(default=None, ge=1, le=366 * 24 * 3600 * 1000)]


class _Reason(BaseModel):
    # Callers may add their own fields (a message for a person, a ticket id).
    model_config = ConfigDict(extra="allow")


class WaitingForEvent(_Reason):
    kind: Literal["waiting_for_event"]
    event_id: Name
    timeout_ms: TimeoutMs = None


class WaitingForApproval(_Reason):
    kind: Literal["waiting_for_approval"]
    timeout_ms: TimeoutMs = None


class SleepUntil(_Reason):
    kind: Literal["sleep_until"]
    at: AwareDatetime


class Manual(_Reason):
    kind: Literal["manual"]
    timeout_ms: TimeoutMs = None


SuspendReason = Annotated[WaitingForEvent | WaitingForApproval | SleepUntil | Manual,
                          Field(discriminator="kind")]


class SuspendIn(_Strict):
    workflow_name: Name
    current_step: Annotated[str, Field(min_length=1, max_length=1024)]
    context_state: dict[str, Any]
    suspend_reason: SuspendReason
    resume_conditions: Annotated[list[Condition], Field(max_length=64)] = Field(
        default_factory=list)
    mode: Literal["all", "any"] = "all"
    metadata: dict[str, Any] = Field(default_factory=dict)


class ConditionOut(BaseModel):
    kind: str
    spec: dict[str, Any] = Field(description="the condition as it was given")
    satisfied: bool
    satisfied_at: datetime | None
    detail: dict[str, Any] | None = Field(
        description="what met it: the event's payload, the version written, the decision")


class Workflow(BaseModel):
    workflow_id: str
    workflow_name: str
    current_step: str
    status: Status
    mode: str
    suspend_reason: dict[str, Any]
    metadata: dict[str, Any]
    conditions: list[ConditionOut]
    context_bytes: int
    suspensions: int
    timeout_at: datetime | None
    timed_out: bool
    created_at: datetime
    suspended_at: datetime
    resumable_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime


class WorkflowPage(BaseModel):
    items: list[Workflow]
    next_cursor: str | None = None


class EventIn(_Strict):
    event_id: Name
    payload: Any = None


class Matched(BaseModel):
    matched: list[str]


class ApproveIn(_Strict):
    decision: Literal["approve", "reject"]
    comment: Annotated[str | None, Field(max_length=4096)] = None


class ResumeIn(_Strict):
    force: bool = False


class Resumed(BaseModel):
    workflow_id: str
    context_state: dict[str, Any]
    current_step: str
    resumed_by: list[dict[str, Any]]
