"""Caller-supplied JSON and text on their way into PostgreSQL.

jsonb and text refuse some values JSON and Python allow: NUL characters, lone
surrogates, NaN and Infinity. They are refused here with the field named (422), before
they reach the database; integers of any size pass unchanged (jsonb stores them exactly).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import AfterValidator

from .errors import PayloadTooLarge, ValidationFailed


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def encode_jsonb(value: Any, field: str, max_bytes: int) -> str:
    """`value` as JSON text jsonb will store unchanged, or a 422/413 naming `field`."""
    if _has_nul(value):
        raise ValidationFailed(f"{field}: strings must not contain NUL characters")
    try:
        encoded = json.dumps(value, ensure_ascii=False, allow_nan=False,
                             separators=(",", ":"))
        size = len(encoded.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise ValidationFailed(f"{field}: strings must be valid Unicode") from exc
    except ValueError as exc:
        raise ValidationFailed(f"{field}: NaN and Infinity are not JSON values") from exc
    if size > max_bytes:
        raise PayloadTooLarge(f"{field} is {size} bytes; the limit is {max_bytes}")
    return encoded


def storable_text(value: str) -> str:
    """A pydantic validator: refuse what a PostgreSQL text column cannot store."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode") from None
    return value


StorableText = AfterValidator(storable_text)
