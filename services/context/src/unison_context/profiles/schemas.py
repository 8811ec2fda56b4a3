"""Request and response models of the profile API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from unison_shared.jsonutil import StorableText


class ProfileOut(BaseModel):
    person_id: str
    profile: dict[str, Any]
    version: int
    etag: str
    redacted: bool = False
    created_at: datetime
    updated_at: datetime


class ProfileVersion(BaseModel):
    version: int
    profile: dict[str, Any]
    created_at: datetime


class ProfileHistory(BaseModel):
    items: list[ProfileVersion]
    next_cursor: str | None


class VerifyIn(BaseModel):
    kind: Literal["pin", "passcode"] = "pin"
    secret: Annotated[str, StorableText, Field(min_length=1, max_length=128)]


class VerifyOut(BaseModel):
    valid: bool
