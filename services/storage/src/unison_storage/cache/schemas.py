"""Request and response models of the TTL cache."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

CacheKey = Annotated[str, StringConstraints(pattern=r"^[^\x00-\x1f\x7f]{1,512}$")]


class CachePut(BaseModel):
    value: Any
    ttl: int | None = Field(default=None, gt=0,
                            description="seconds; default and maximum from settings")


class CacheEntry(BaseModel):
    key: str
    value: Any
    ttl: int = Field(description="the TTL the entry was stored with, in seconds")
    created_at: datetime
    accessed_at: datetime
    expires_at: datetime


class CacheDeleted(BaseModel):
    key: str
    deleted: bool = True


class CacheCleanup(BaseModel):
    deleted: int
