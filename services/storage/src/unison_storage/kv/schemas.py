"""Request and response models of the KV API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

Namespace = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:\-]{1,128}$")]
Key = Annotated[str, StringConstraints(pattern=r"^[^\x00-\x1f\x7f]{1,512}$")]


class KVPutBody(BaseModel):
    value: Any = Field(description="Any JSON value; null is a value, not a delete")
    ttl_seconds: int | None = Field(default=None, gt=0, le=10 * 365 * 24 * 3600)


class KVRecord(BaseModel):
    namespace: str
    key: str
    value: Any
    version: int
    etag: str
    expires_at: datetime | None
    updated_at: datetime


class KVPage(BaseModel):
    items: list[KVRecord]
    next_cursor: str | None
