"""Models of storage's record domains: identity, KV, memory, vault, audit, objects, cache.

Field names and types mirror the service's OpenAPI components of the same name
(tests/client/test_models_openapi.py fails on any drift). Unknown fields in a reply are
ignored, so an older client keeps working against a newer service.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class WhoAmI(Model):
    sub: str
    tenant_id: str
    person_id: str
    kind: str
    scopes: list[str]


# --- KV --------------------------------------------------------------------------------
class KVPutBody(Model):
    value: Any
    ttl_seconds: int | None = None


class KVRecord(Model):
    namespace: str
    key: str
    value: Any
    version: int
    etag: str
    expires_at: datetime | None
    updated_at: datetime


class KVPage(Model):
    items: list[KVRecord]
    next_cursor: str | None


# --- working memory --------------------------------------------------------------------
class MemoryPut(Model):
    payload: Any
    keyspace: str = "default"
    ttl_seconds: int | None = None


class MemoryWrite(MemoryPut):
    key: str | None = None


class MemoryEntry(Model):
    id: int
    session_id: str
    key: str | None
    keyspace: str
    payload: Any
    created_at: datetime
    expires_at: datetime


class MemoryPage(Model):
    items: list[MemoryEntry]
    next_cursor: str | None


class Deleted(Model):
    deleted: int


# --- vault -----------------------------------------------------------------------------
class SecretPutBody(Model):
    value: str
    metadata: dict[str, Any] | None = None
    cas: int | None = None
    max_versions: int | None = None


class DestroyBody(Model):
    versions: list[int] | Literal["all"]


class VersionInfo(Model):
    version: int
    created_at: datetime
    destroyed: bool
    destroyed_at: datetime | None


class SecretMetadata(Model):
    name: str
    version: int
    max_versions: int
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


class SecretDetail(SecretMetadata):
    versions: list[VersionInfo]


class SecretValue(Model):
    name: str
    version: int
    value: str
    metadata: dict[str, Any]
    created_at: datetime


class SecretPage(Model):
    items: list[SecretMetadata]
    next_cursor: str | None


class DestroyResult(Model):
    name: str
    destroyed: list[int]


# --- audit -----------------------------------------------------------------------------
class AuditEventIn(Model):
    id: str | None = None
    actor: str | None = None
    action: str
    target: str | None = None
    decision_id: str | None = None
    status: str | None = None
    person_id: str | None = None
    payload: dict[str, Any] = {}


class AuditEvent(AuditEventIn):
    id: str
    seq: int
    created_at: datetime
    prev_hash: str
    hash: str


class AuditPage(Model):
    items: list[AuditEvent]
    next_cursor: str | None


class Checkpoint(Model):
    seq: int
    hash: str
    signed_at: datetime
    key_id: str
    signature: str


class CheckpointPage(Model):
    items: list[Checkpoint]
    next_cursor: str | None = None
    key_id: str
    public_key: str


class VerifyRequest(Model):
    checkpoint: Checkpoint | None = None


class VerifyResult(Model):
    valid: bool
    checked: int
    first_broken_seq: int | None = None
    reason: str | None = None
    checkpoints_checked: int = 0


# --- objects ---------------------------------------------------------------------------
class ObjectMeta(Model):
    id: str
    person_id: str
    filename: str | None
    content_type: str
    size_bytes: int
    sha256: str
    labels: dict[str, str]
    created_at: datetime


class ObjectPage(Model):
    items: list[ObjectMeta]
    next_cursor: str | None


class PresignBody(Model):
    expires_in: int = 900


class PresignedURL(Model):
    url: str
    expires_at: datetime


# --- cache -----------------------------------------------------------------------------
class CachePut(Model):
    value: Any
    ttl: int | None = None


class CacheEntry(Model):
    key: str
    value: Any
    ttl: int
    created_at: datetime
    accessed_at: datetime
    expires_at: datetime


class CacheDeleted(Model):
    key: str
    deleted: bool = True


class CacheCleanup(Model):
    deleted: int


# --- files -----------------------------------------------------------------------------
class FileMeta(Model):
    path: str
    object_id: str
    size_bytes: int
    content_type: str
    sha256: str
    created_at: datetime
    updated_at: datetime


class FilePage(Model):
    items: list[FileMeta]
    common_prefixes: list[str]
    next_cursor: str | None


class FilePresign(Model):
    path: str
    expires_in: int = 900


class FileDeleted(Model):
    path: str
    payload_deleted: bool
