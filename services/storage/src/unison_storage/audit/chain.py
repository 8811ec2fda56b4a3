"""The hash chain: one canonical byte form per event, so anyone holding the rows can
recompute every hash (sha256 of that form, hex). Each event records the version of the
form its hash covers; `verify` checks every event by its own version.

v1 (events written before revision 0007): deterministic JSON
built in Python (sorted keys, no spaces, UTF-8); `created_at` in UTC with microseconds,
the payload in the form the database hands back decoded.

v2 (PostgreSQL since revision 0007): computed by PostgreSQL inside the append itself
(`audit_canonical_v2` in that migration), so an append is one round trip. The tag
`unison-audit-v2`, then each field: NULL as "-", any other value as its UTF-8 byte
length, ":" and the value. The payload is jsonb's text form (`payload::text`), the time
is microseconds since the epoch. `canonical_bytes_v2` builds the same bytes here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

GENESIS_HASH = "0" * 64

CANONICAL_FIELDS = ("tenant_id", "seq", "id", "actor", "action", "target", "decision_id",
                    "status", "person_id", "payload", "created_at", "prev_hash")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_V2_TAG = b"unison-audit-v2"


def canonical_time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_bytes(event: Mapping[str, Any]) -> bytes:
    """The exact bytes a v1 hash covers (every field but `hash` itself)."""
    doc = {name: event[name] for name in CANONICAL_FIELDS}
    doc["created_at"] = canonical_time(event["created_at"])
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def event_hash(event: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(event)).hexdigest()


def _v2_field(value: str | None) -> bytes:
    if value is None:
        return b"-"
    raw = value.encode("utf-8")
    return str(len(raw)).encode() + b":" + raw


def canonical_bytes_v2(event: Mapping[str, Any], payload_text: str) -> bytes:
    """The exact bytes a v2 hash covers; `payload_text` is the stored `payload::text`."""
    micros = (event["created_at"] - _EPOCH) // timedelta(microseconds=1)
    fields = [event["tenant_id"], str(event["seq"]), event["id"], event["actor"],
              event["action"], event["target"], event["decision_id"], event["status"],
              event["person_id"], payload_text, str(micros), event["prev_hash"]]
    return _V2_TAG + b"".join(_v2_field(f) for f in fields)


def event_hash_v2(event: Mapping[str, Any], payload_text: str) -> str:
    return hashlib.sha256(canonical_bytes_v2(event, payload_text)).hexdigest()
