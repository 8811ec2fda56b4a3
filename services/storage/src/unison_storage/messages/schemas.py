"""Request and response models of /v1/threads/{id}/messages."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from unison_shared.jsonutil import StorableText

from ..threads.schemas import RecordId

Role = Literal["system", "user", "assistant", "tool"]
Content = Annotated[str, StorableText]
Order = Literal["oldest", "newest"]


class MessageIn(BaseModel):
    role: Role
    content: Content
    metadata: dict[str, Any] = Field(default_factory=dict)
    parent_message_id: Annotated[RecordId, StringConstraints(max_length=128)] | None = None


class Message(BaseModel):
    id: str
    thread_id: str
    seq: int = Field(description="the message's place in its thread, from 1, never reused")
    role: Role
    content: str
    content_bytes: int
    parent_message_id: str | None
    metadata: dict[str, Any]
    created_at: datetime


class MessagePage(BaseModel):
    items: list[Message]
    next_cursor: str | None


class MessagesDeleted(BaseModel):
    thread_id: str
    deleted: int
