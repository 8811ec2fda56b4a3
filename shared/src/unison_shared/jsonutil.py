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


# A JSON text's tokens that matter for nesting: whole strings (so brackets inside them
# do not count), and the brackets themselves.
_NESTING_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def nesting_exceeds(body: bytes, limit: int) -> bool:
    """Whether the JSON text `body` nests arrays and objects deeper than `limit`,
    found without parsing it (a parser is what too deep a document breaks). A body
    with no more brackets than `limit` cannot, which settles almost every request
    with two byte counts."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    for match in _NESTING_TOKENS.finditer(body):
        first = match.group()[0]
        if first in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return True
        elif first in (0x5D, 0x7D):  # ] }
            depth -= 1
    return False
