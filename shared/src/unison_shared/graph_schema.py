"""What the graphs may hold (contract.md § Schema): labels, relationship types, and
properties that are ids, types, timestamps and confidence scores, never content.

Labels and relationship types reach Cypher only as members of these constant sets;
input names a member, it is never pasted. A property off the allow-list, or a value
that looks like an e-mail address, a phone number, a card number or free text, is
refused with 422 naming the property.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from .errors import ValidationFailed

LABELS: frozenset[str] = frozenset({
    "Person", "Device", "Agent", "Service", "Skill", "Resource", "Workspace", "Session",
    "IntentInstance", "PolicyGroup",
})
REL_TYPES: frozenset[str] = frozenset({
    "OWNS", "MEMBER_OF", "HAS_RESOURCE", "HANDLES", "PRODUCED", "ON_DEVICE", "FOR_PERSON",
    "ABOUT", "ALLOWED_BY", "REQUESTED_BY", "TRIGGERED",
})
# Every node also carries this label: the (tenant, id) uniqueness constraint and the
# index every lookup by id uses live on it (migrations/*/0001_*.cypher).
BASE_LABEL = "Entity"

# Properties the platform sets itself; callers cannot write them.
RESERVED_PROPS: frozenset[str] = frozenset({"tenant", "id", "created_at", "updated_at"})
ALLOWED_PROPS: frozenset[str] = frozenset({
    "storage_id", "type", "kind", "state", "status", "source", "role",
    "confidence", "score", "weight", "rank", "success_rate", "count",
    "timestamp", "ts", "started_at", "ended_at", "expires_at", "last_seen_at",
    "occurred_at", "created_at", "updated_at",
})
_ID_PROP = re.compile(r"^[a-z][a-z0-9_]{0,62}_id$")
ID_PATTERN = r"^[A-Za-z0-9._:\-]{1,200}$"
_ID = re.compile(ID_PATTERN)

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"^\+?\(?\d{1,4}\)?(?:[\s.\-]?\(?\d{2,5}\)?){1,5}$")
_CARD_CHARS = re.compile(r"^[\d\s\-]{13,23}$")
_FREE_TEXT_MAX = 200


def check_label(label: str, field: str = "label") -> str:
    if label not in LABELS:
        raise ValidationFailed(f"{field}: {label!r} is not a label of the schema",
                               field=field, allowed=sorted(LABELS))
    return label


def check_labels(labels: Iterable[str], field: str = "labels") -> list[str]:
    checked = sorted({check_label(lbl, field) for lbl in labels})
    if not checked:
        raise ValidationFailed(f"{field}: at least one label is required", field=field)
    return checked


def check_rel_type(rel_type: str, field: str = "type") -> str:
    if rel_type not in REL_TYPES:
        raise ValidationFailed(f"{field}: {rel_type!r} is not a relationship type of the "
                               "schema", field=field, allowed=sorted(REL_TYPES))
    return rel_type


def check_id(value: str, field: str = "id") -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise ValidationFailed(f"{field}: an id is 1-200 of [A-Za-z0-9._:-]", field=field)
    return value


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _is_timestamp(text: str) -> bool:
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def looks_like_content(value: Any) -> str | None:
    """Why a value looks like personal data or content, or None."""
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return None
    if isinstance(value, int):
        digits = str(abs(value))
        return "a card number" if 13 <= len(digits) <= 19 and _luhn(digits) else None
    if not isinstance(value, str):
        return "not a scalar"
    if _EMAIL.search(value):
        return "an e-mail address"
    if _CARD_CHARS.match(value):
        digits = re.sub(r"\D", "", value)
        if 13 <= len(digits) <= 19 and _luhn(digits):
            return "a card number"
    if _is_timestamp(value):
        return None
    digits = re.sub(r"\D", "", value)
    if _PHONE.match(value.strip()) and 7 <= len(digits) <= 15 and (
            value.startswith("+") or re.search(r"[\s().\-]", value)):
        return "a phone number"
    if len(value) > _FREE_TEXT_MAX or re.search(r"\s", value):
        return "free text"
    return None


def check_props(props: Mapping[str, Any], field: str = "props") -> dict[str, Any]:
    """The properties, if every one is allowed and holds no content; else 422."""
    clean: dict[str, Any] = {}
    for key, value in props.items():
        name = f"{field}.{key}"
        if key in RESERVED_PROPS:
            raise ValidationFailed(f"{name}: set by the platform, not by callers",
                                   field=name)
        if key not in ALLOWED_PROPS and not _ID_PROP.match(key):
            raise ValidationFailed(
                f"{name}: property not allowed in the graph (ids, types, timestamps, "
                "confidence and storage_id only; content belongs in storage)", field=name)
        if isinstance(value, float) and value != value:  # NaN
            raise ValidationFailed(f"{name}: not a number", field=name)
        reason = looks_like_content(value)
        if reason is not None:
            raise ValidationFailed(f"{name}: the value looks like {reason}; the graph holds "
                                   "ids and references only", field=name)
        clean[key] = value
    return clean
