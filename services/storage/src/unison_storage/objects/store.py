"""Object payload stores: the interface both backends implement, and the key layout.

A payload's key is `{tenant}/{xx}/{blob-uuid}`: prefixed by the tenant (so a listing or a
bucket policy can be cut per household), fanned out by two hex characters (so no directory
grows huge), and never built from anything a caller typed (no filenames, no object ids).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

_SAFE_TENANT = re.compile(r"^[A-Za-z0-9_\-][A-Za-z0-9_.\-]{0,127}$")


class BlobMissing(Exception):
    """The payload a key names is not in the store."""


class StoreUnavailable(Exception):
    """The backend failed or is unreachable; the message never carries payload bytes."""


@dataclass(frozen=True)
class BlobInfo:
    key: str
    size: int
    modified_at: datetime  # timezone-aware


class ObjectStore(Protocol):
    async def put_stream(self, key: str, chunks: AsyncIterator[bytes]) -> tuple[int, str]:
        """Store the stream under key without holding it all in memory; the payload becomes
        visible only once complete. Returns (size, sha256 hex). Leaves nothing behind when
        the stream (or the backend) fails."""
        ...

    async def open_range(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        """Open bytes start..end (inclusive) for reading; raises BlobMissing before any
        byte is produced, so a caller can still answer with a proper error."""
        ...

    async def head(self, key: str) -> BlobInfo | None:
        ...

    async def delete(self, key: str) -> None:
        """Idempotent: deleting a missing key is not an error."""
        ...

    def list_keys(self, prefix: str = "") -> AsyncIterator[BlobInfo]:
        """Every stored payload under prefix (including abandoned temporary ones)."""
        ...

    async def abort_stale_uploads(self, started_before: datetime, dry_run: bool) -> int:
        """Abort multipart uploads begun before `started_before` and never completed
        (a process that died mid-upload leaves them holding storage); returns how many
        were found. Backends without such uploads return 0."""

    async def check(self) -> None:
        """Raise when the backend is unreachable (used by readiness)."""
        ...

    async def close(self) -> None:
        ...


def tenant_segment(tenant_id: str) -> str:
    """The tenant's first key segment: the id itself when it is path-safe, else a hash."""
    if _SAFE_TENANT.match(tenant_id) and tenant_id not in (".", ".."):
        return tenant_id
    return "t-" + hashlib.sha256(tenant_id.encode()).hexdigest()[:40]


def new_storage_key(tenant_id: str) -> str:
    blob = uuid.uuid4().hex
    return f"{tenant_segment(tenant_id)}/{blob[:2]}/{blob}"

