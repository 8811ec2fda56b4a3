"""Opaque keyset cursors shared by the agent-runtime lists: a tag and a JSON array."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from unison_shared.errors import BadRequest


def encode(tag: str, *values: Any) -> str:
    raw = orjson.dumps([tag, *values])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(tag: str, cursor: str, arity: int) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = orjson.loads(raw)
    except (ValueError, binascii.Error, orjson.JSONDecodeError) as exc:
        raise BadRequest("cursor: not one this service issued") from exc
    if not isinstance(values, list) or len(values) != arity + 1 or values[0] != tag:
        raise BadRequest("cursor: not one this service issued")
    return values[1:]
