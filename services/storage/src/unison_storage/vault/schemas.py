"""Request and response models of the vault API. No response model except SecretValue
carries a secret value: metadata, lists and write acknowledgements never do."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

MetadataField = Field(
    default=None,
    description="Caller metadata (a JSON object). It is stored in PLAIN TEXT and returned "
                "by metadata and list calls: it must never hold secret material.")


class SecretPutBody(BaseModel):
    value: str = Field(description="The secret (UTF-8 text); encrypted at rest")
    metadata: dict[str, Any] | None = MetadataField
    cas: int | None = Field(default=None, ge=0,
                            description="Expected current version; 0 = must not exist yet")
    max_versions: int | None = Field(default=None, ge=1,
                                     description="Versions to keep (at most the server's)")


class DestroyBody(BaseModel):
    versions: Annotated[list[Annotated[int, Field(ge=1)]],
                        Field(min_length=1, max_length=1000)] | Literal["all"]


class VersionInfo(BaseModel):
    version: int
    created_at: datetime
    destroyed: bool
    destroyed_at: datetime | None


class SecretMetadata(BaseModel):
    name: str
    version: int = Field(description="The current version")
    max_versions: int
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


class SecretDetail(SecretMetadata):
    versions: list[VersionInfo]


class SecretValue(BaseModel):
    name: str
    version: int
    value: str
    metadata: dict[str, Any]
    created_at: datetime = Field(description="When this version was written")


class SecretPage(BaseModel):
    items: list[SecretMetadata]
    next_cursor: str | None


class DestroyResult(BaseModel):
    name: str
    destroyed: list[int]


class KekRotation(BaseModel):
    kek_version: str
    rewrapped: int
    data_keys_by_kek: dict[str, int]


class DataKeyRotation(BaseModel):
    data_key_version: int
