"""The hash chain: one canonical byte form per event, so anyone holding the rows can
recompute every hash (sha256 over deterministic JSON: sorted keys, no spaces, UTF-8).

`created_at` is rendered in UTC with microseconds (PostgreSQL's precision), and the
payload is hashed in the form PostgreSQL hands back from jsonb, so the hash computed at
append time and the one recomputed by verify always see the same value.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64

CANONICAL_FIELDS = ("tenant_id", "seq", "id", "actor", "action", "target", "decision_id",
                    "status", "person_id", "payload", "created_at", "prev_hash")


def canonical_time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_bytes(event: Mapping[str, Any]) -> bytes:
    """The exact bytes an event's hash covers (every field but `hash` itself)."""
    doc = {name: event[name] for name in CANONICAL_FIELDS}
    doc["created_at"] = canonical_time(event["created_at"])
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def event_hash(event: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(event)).hexdigest()
