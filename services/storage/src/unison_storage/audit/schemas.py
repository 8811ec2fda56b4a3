"""Audit event models.

Text fields refuse NUL and lone surrogates (PostgreSQL text cannot hold either), so a bad
field is a 422 naming the field rather than a database error.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from unison_shared.jsonutil import StorableText

Storable = StorableText
EventId = Annotated[str, StringConstraints(pattern=r"^[^\x00-\x1f\x7f]{1,128}$"), Storable]


Text = Annotated[str, Storable]


def _text(max_length: int) -> Any:
    return Field(default=None, max_length=max_length)


class AuditEventIn(BaseModel):
    """An event to append. `id` is the caller's idempotency key (a retry with the same id
    returns the first event instead of appending twice)."""

    id: EventId | None = None
    actor: Text | None = _text(256)
    action: Text = Field(min_length=1, max_length=128)
    target: Text | None = _text(512)
    decision_id: Text | None = _text(128)
    status: Text | None = _text(64)
    person_id: Text | None = _text(128)
    payload: dict[str, Any] = Field(default_factory=dict)


class AuditEvent(AuditEventIn):
    id: str
    seq: int
    created_at: datetime
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    items: list[AuditEvent]
    next_cursor: str | None = Field(description="pass back as `cursor` for the next page")


class VerifyResult(BaseModel):
    valid: bool
    checked: int = Field(description="events whose hash and link were checked")
    first_broken_seq: int | None = None
    reason: str | None = None
    checkpoints_checked: int = Field(
        default=0, description="signed checkpoints the chain was held against")


class Checkpoint(BaseModel):
    """The tenant's chain head at `seq`, signed with the platform's Ed25519 key: keep a
    copy, and pass it back to `POST /v1/audit/verify` to prove the chain still holds it."""

    seq: int = Field(ge=1)
    hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    signed_at: datetime
    key_id: str = Field(max_length=64)
    signature: str = Field(max_length=128, description="base64 Ed25519 signature")


class CheckpointPage(BaseModel):
    items: list[Checkpoint]
    next_cursor: str | None = None
    key_id: str = Field(description="the key that signs new checkpoints")
    public_key: str = Field(description="its Ed25519 public key, base64 (raw 32 bytes)")


class VerifyRequest(BaseModel):
    checkpoint: Checkpoint | None = Field(
        default=None, description="a checkpoint kept from earlier: verify also proves "
                                  "the chain still has its hash at its sequence number")
