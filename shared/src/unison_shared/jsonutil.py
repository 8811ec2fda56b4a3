"""JSON encoding of caller-supplied values.

orjson is fast but refuses integers beyond 64 bits, which JSON (and PostgreSQL's jsonb)
allow; those values fall back to the standard library so nothing a caller sends is
refused or altered.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"),
                          allow_nan=False).encode()
