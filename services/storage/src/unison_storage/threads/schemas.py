"""Request and response models of /v1/threads."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from unison_shared.jsonutil import StorableText

Status = Literal["active", "paused", "ended"]
AgentName = Annotated[str, StringConstraints(pattern=r"^[^\x00-\x1f\x7f]{1,256}$"),
                      StorableText]
Title = Annotated[str, StringConstraints(max_length=1024), StorableText]
# Ids the service mints: a prefix and 16 hex digits; anything else is simply not found.
RecordId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-]{1,128}$")]


class ThreadCreate(BaseModel):
    agent_name: AgentName
    title: Title | None = None
    status: Status = "active"
    metadata: dict[str, Any] = Field(default_factory=dict)


class ThreadPatch(BaseModel):
    agent_name: AgentName | None = None
    title: Title | None = None
    status: Status | None = None
    metadata: dict[str, Any] | None = Field(default=None,
                                            description="replaces the thread's metadata")


class Thread(BaseModel):
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


class ThreadPage(BaseModel):
    items: list[Thread]
    next_cursor: str | None


class ThreadDeleted(BaseModel):
    id: str
    messages: int
    state_versions: int
    artifacts: int
    payloads: int = Field(description="objects deleted with the thread (no other record "
                                      "referenced them)")
