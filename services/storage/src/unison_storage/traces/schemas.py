"""Trace API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

Status = Literal["unset", "ok", "error"]


class RecordIn(BaseModel):
    """agent-one's `record_trace`: one operation of a component, as a span."""

    component: str = Field(min_length=1, max_length=256)
    operation_name: str = Field(min_length=1, max_length=512)
    start_time: datetime
    end_time: datetime
    status: Status = "ok"
    status_message: str | None = Field(default=None, max_length=4096)
    attributes: dict[str, Any] = Field(default_factory=dict)
    trace_id: str | None = Field(default=None, description="32 hex; new trace when absent")
    parent_span_id: str | None = Field(default=None, description="16 hex")


class Recorded(BaseModel):
    trace_id: str
    span_id: str


class TraceSummary(BaseModel):
    trace_id: str
    name: str = Field(description="the root span's name (the first span without parent)")
    component: str
    start_time: datetime
    end_time: datetime
    duration_ms: float
    span_count: int
    status: Status = Field(description="error when any span failed")


class TracePage(BaseModel):
    items: list[TraceSummary]
    next_cursor: str | None = None


class SpanNode(BaseModel):
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    component: str
    start_time: datetime
    end_time: datetime
    duration_ms: float
    status: Status
    status_message: str | None
    attributes: dict[str, Any]
    events: list[dict[str, Any]]
    resource: dict[str, Any]
    links: list[dict[str, Any]]
    children: list[SpanNode] = Field(default_factory=list)


class Trace(BaseModel):
    trace_id: str
    span_count: int
    roots: list[SpanNode] = Field(description="spans whose parent is not in the trace")
