"""Request and response models of /v1/threads/{id}/state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class StatePut(BaseModel):
    data: dict[str, Any]


class StateRestore(BaseModel):
    version: int = Field(ge=1, description="the version whose data becomes a new version")


class State(BaseModel):
    thread_id: str
    version: int
    data: dict[str, Any]
    updated_at: datetime


class StateVersion(BaseModel):
    version: int
    size_bytes: int = Field(description="size of the sealed state")
    created_at: datetime


class StateVersions(BaseModel):
    thread_id: str
    current_version: int = Field(description="the newest version written (0: none yet)")
    items: list[StateVersion]


class StateDeleted(BaseModel):
    thread_id: str
    deleted: int
