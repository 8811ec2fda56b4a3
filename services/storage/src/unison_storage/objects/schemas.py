"""Request and response models of the objects API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

# Ids the service mints are UUIDs; legacy callers may choose their own within this shape.
ObjectId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:\-]{1,128}$")]


class ObjectMeta(BaseModel):
    id: str
    person_id: str
    filename: str | None
    content_type: str
    size_bytes: int
    sha256: str
    labels: dict[str, str]
    created_at: datetime

    @property
    def etag(self) -> str:
        return f'"{self.sha256}"'


class ObjectPage(BaseModel):
    items: list[ObjectMeta]
    next_cursor: str | None


class PresignBody(BaseModel):
    expires_in: int = Field(default=900, gt=0,
                            description="seconds the link stays valid (at most the "
                                        "service's presign_max_seconds)")


class PresignedURL(BaseModel):
    url: str
    expires_at: datetime


class ReconcileReport(BaseModel):
    dry_run: bool
    blobs_scanned: int = 0
    rows_scanned: int = 0
    orphan_blobs: int = 0
    orphan_blobs_deleted: int = 0
    orphan_blobs_in_grace: int = 0
    rows_missing_blob: int = 0
    rows_deleted: int = 0
    stale_uploads: int = Field(default=0, description="multipart uploads never completed "
                                                      "(aborted unless dry_run)")
    missing: list[str] = Field(default_factory=list,
                               description="tenant/id of rows whose payload was missing "
                                           "(first 1000)")
