"""Request and response models of the conversation API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from unison_shared.jsonutil import StorableText

SessionId = Annotated[str, StringConstraints(pattern=r"^[^\x00-\x1f\x7f/]{1,256}$")]


class MessageIn(BaseModel):
    role: Annotated[str, StorableText, Field(min_length=1, max_length=64)]
    content: Any = Field(description="text or any JSON value")
    metadata: dict[str, Any] = Field(default_factory=dict)


class AppendIn(BaseModel):
    messages: list[MessageIn] = Field(min_length=1, max_length=500)


class StateIn(BaseModel):
    """Latest response and summary; a field left out is unchanged, null clears it."""

    response: dict[str, Any] | None = None
    summary: Annotated[str, StorableText, Field(max_length=65536)] | None = None


class Message(BaseModel):
    seq: int
    role: str | None
    content: Any
    metadata: dict[str, Any]
    created_at: datetime


class MessagePage(BaseModel):
    items: list[Message]
    next_cursor: str | None


class Session(BaseModel):
    session_id: str
    response: dict[str, Any] | None
    summary: str | None
    message_count: int
    created_at: datetime
    updated_at: datetime


class SessionPage(BaseModel):
    items: list[Session]
    next_cursor: str | None


class Deleted(BaseModel):
    deleted: int
