"""Caller-supplied JSON and text on their way into PostgreSQL.

jsonb and text refuse some values JSON and Python allow: NUL characters, lone
surrogates, NaN and Infinity. They are refused here with the field named (422), before
they reach the database; integers of any size pass unchanged (jsonb stores them exactly).
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import AfterValidator

from .errors import PayloadTooLarge, ValidationFailed

# A NUL in any string or key of the value is the escape \u0000 in its JSON text (json
# escapes every control character), preceded by an even number of backslashes: an odd
# number would make it the literal text "\u0000" of an escaped backslash. Searching the
# encoded text once costs less than walking the value.
_NUL_ESCAPE = re.compile(r"(?:^|[^\\])(?:\\\\)*\\u0000")


def encode_jsonb(value: Any, field: str, max_bytes: int) -> str:
    """`value` as JSON text jsonb will store unchanged, or a 422/413 naming `field`."""
    try:
        encoded = json.dumps(value, ensure_ascii=False, allow_nan=False,
                             separators=(",", ":"))
        size = len(encoded.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise ValidationFailed(f"{field}: strings must be valid Unicode") from exc
    except ValueError as exc:
        raise ValidationFailed(f"{field}: NaN and Infinity are not JSON values") from exc
    if "\\u0000" in encoded and _NUL_ESCAPE.search(encoded):
        raise ValidationFailed(f"{field}: strings must not contain NUL characters")
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
