"""unison-client: the typed Python client of the Unison persistence platform.

    from unison_client import UnisonClient

    async with UnisonClient() as u:          # UNISON_STORAGE_URL, UNISON_TOKEN
        await u.vault.put("openai/api-key", "sk-...")
        await u.cache.set("greeting", "hello", ttl=60)
"""

from __future__ import annotations

from .client import UnisonClient
from .errors import (
    BadRequestError,
    ConnectionError,
    DuplicateError,
    FieldError,
    GoneError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDenied,
    PreconditionFailed,
    UnisonError,
    ValidationError,
)
from .paging import iterate
from .sync import SyncUnisonClient
from .tracing import trace_context

__all__ = [
    "BadRequestError",
    "ConnectionError",
    "DuplicateError",
    "FieldError",
    "GoneError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDenied",
    "PreconditionFailed",
    "SyncUnisonClient",
    "UnisonClient",
    "UnisonError",
    "ValidationError",
    "iterate",
    "trace_context",
]
