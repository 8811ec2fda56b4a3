"""Request and response models of /v1/files."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class FileMeta(BaseModel):
    path: str
    object_id: str = Field(description="the object holding the content (/v1/objects)")
    size_bytes: int
    content_type: str
    sha256: str
    created_at: datetime
    updated_at: datetime

    @property
    def etag(self) -> str:
        return f'"{self.sha256}"'


class FilePage(BaseModel):
    items: list[FileMeta]
    common_prefixes: list[str] = Field(
        description="with a delimiter: the prefix up to and including the delimiter of "
                    "every deeper path, once each (S3's CommonPrefixes)")
    next_cursor: str | None


class FilePresign(BaseModel):
    path: str
    expires_in: int = Field(default=900, gt=0,
                            description="seconds the link stays valid (at most the "
                                        "service's presign_max_seconds)")


class FileDeleted(BaseModel):
    path: str
    payload_deleted: bool
