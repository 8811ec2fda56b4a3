"""Request and response models of the working-memory API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from unison_shared.jsonutil import StorableText

_Storable = StorableText
SessionId = Annotated[str, StringConstraints(pattern=r"^[^\x00-\x1f\x7f]{1,256}$"), _Storable]
EntryKey = Annotated[str, StringConstraints(pattern=r"^[^\x00-\x1f\x7f]{1,512}$"), _Storable]
Keyspace = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:\-]{1,128}$")]

DEFAULT_KEYSPACE = "default"


class MemoryPut(BaseModel):
    payload: Any = Field(description="Any JSON value")
    keyspace: Keyspace = Field(default=DEFAULT_KEYSPACE,
                               description="picks the default TTL when ttl_seconds is absent")
    ttl_seconds: int | None = Field(default=None, gt=0)


class MemoryWrite(MemoryPut):
    key: EntryKey | None = Field(default=None,
                                 description="a keyed write replaces the session's entry "
                                             "with the same key")


class MemoryEntry(BaseModel):
    id: int
    session_id: str
    key: str | None
    keyspace: str
    payload: Any
    created_at: datetime
    expires_at: datetime


class MemoryPage(BaseModel):
    items: list[MemoryEntry]
    next_cursor: str | None


class Deleted(BaseModel):
    deleted: int
