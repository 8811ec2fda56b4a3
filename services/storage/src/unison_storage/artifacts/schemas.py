"""Request and response models of /v1/threads/{id}/artifacts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from unison_shared.jsonutil import StorableText

from ..objects.schemas import ObjectId

Name = Annotated[str, StringConstraints(min_length=1, max_length=1024), StorableText]
Kind = Annotated[str, StringConstraints(min_length=1, max_length=128), StorableText]
ContentType = Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e][\x20-\x7e]{0,254}$")]


class ArtifactIn(BaseModel):
    name: Name
    type: Kind
    content_type: ContentType = "application/octet-stream"
    path: Annotated[str, StringConstraints(max_length=4096), StorableText] = ""
    size: int | None = Field(default=None, ge=0,
                             description="for a path-only artifact; a payload's own size wins")
    metadata: dict[str, Any] = Field(default_factory=dict)
    content_b64: str | None = Field(default=None, description="the payload, base64")
    object_id: ObjectId | None = Field(default=None,
                                       description="an object uploaded through /v1/objects")


class Artifact(BaseModel):
    id: str
    thread_id: str
    name: str
    type: str
    content_type: str
    size_bytes: int
    path: str
    sha256: str | None
    object_id: str | None
    metadata: dict[str, Any]
    created_at: datetime


class ArtifactPage(BaseModel):
    items: list[Artifact]
    next_cursor: str | None


class ArtifactDeleted(BaseModel):
    id: str
    payload_deleted: bool = Field(description="whether its payload went with it (no other "
                                              "record referenced it)")
