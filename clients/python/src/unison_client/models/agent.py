"""Models of storage's agent-runtime records: threads, messages, state, artifacts,
metrics. Checked against the service's OpenAPI document like records.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from .records import Model

Status = Literal["active", "paused", "ended"]
Role = Literal["system", "user", "assistant", "tool"]
Bucket = Literal["1m", "1h", "1d"]


# --- threads ---------------------------------------------------------------------------
class ThreadCreate(Model):
    agent_name: str
    title: str | None = None
    status: Status = "active"
    metadata: dict[str, Any] = {}


class ThreadPatch(Model):
    agent_name: str | None = None
    title: str | None = None
    status: Status | None = None
    metadata: dict[str, Any] | None = None


class Thread(Model):
    id: str
    person_id: str
    agent_name: str
    title: str | None
    status: Status
    metadata: dict[str, Any]
    message_count: int
    state_version: int
    created_at: datetime
    updated_at: datetime


class ThreadPage(Model):
    items: list[Thread]
    next_cursor: str | None


class ThreadDeleted(Model):
    id: str
    messages: int
    state_versions: int
    artifacts: int
    payloads: int


# --- messages --------------------------------------------------------------------------
class MessageIn(Model):
    role: Role
    content: str
    metadata: dict[str, Any] = {}
    parent_message_id: str | None = None


class Message(Model):
    id: str
    thread_id: str
    seq: int
    role: Role
    content: str
    content_bytes: int
    parent_message_id: str | None
    metadata: dict[str, Any]
    created_at: datetime


class MessagePage(Model):
    items: list[Message]
    next_cursor: str | None


class MessagesDeleted(Model):
    thread_id: str
    deleted: int


# --- state -----------------------------------------------------------------------------
class StatePut(Model):
    data: dict[str, Any]


class StateRestore(Model):
    version: int


class State(Model):
    thread_id: str
    version: int
    data: dict[str, Any]
    updated_at: datetime


class StateVersion(Model):
    version: int
    size_bytes: int
    created_at: datetime


class StateVersions(Model):
    thread_id: str
    current_version: int
    items: list[StateVersion]


class StateDeleted(Model):
    thread_id: str
    deleted: int


# --- artifacts -------------------------------------------------------------------------
class ArtifactIn(Model):
    name: str
    type: str
    content_type: str = "application/octet-stream"
    path: str = ""
    size: int | None = None
    metadata: dict[str, Any] = {}
    content_b64: str | None = None
    object_id: str | None = None


class Artifact(Model):
    id: str
    thread_id: str
    name: str
    type: str
    content_type: str
    size_bytes: int
    path: str
    sha256: str | None
    object_id: str | None
    metadata: dict[str, Any]
    created_at: datetime


class ArtifactPage(Model):
    items: list[Artifact]
    next_cursor: str | None


class ArtifactDeleted(Model):
    id: str
    payload_deleted: bool


# --- metrics ---------------------------------------------------------------------------
class MetricIn(Model):
    entity_type: str
    entity_name: str
    thread_id: str | None = None
    metric_name: str
    value: float
    labels: dict[str, str] = {}
    timestamp: datetime | None = None


class MetricBatch(Model):
    points: list[MetricIn]


class Metric(Model):
    id: str
    entity_type: str
    entity_name: str
    thread_id: str | None
    metric_name: str
    value: float
    labels: dict[str, str]
    timestamp: datetime


class MetricPage(Model):
    items: list[Metric]
    next_cursor: str | None


class Recorded(Model):
    recorded: int
    items: list[Metric]


class BucketStats(Model):
    bucket_start: datetime
    count: int
    sum: float
    avg: float
    min: float
    max: float
    p50: float
    p95: float


class Aggregates(Model):
    metric_name: str
    bucket: Bucket
    items: list[BucketStats]
