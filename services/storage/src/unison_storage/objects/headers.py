"""Parsing of the request headers the objects API honours: Range, digests, labels.

Pure functions (no FastAPI), so the rules are testable and shared by router and service.
"""

from __future__ import annotations

import base64
import binascii
import re

from unison_shared.errors import BadRequest, RangeNotSatisfiable, ValidationFailed

# At most 19 digits (any byte offset fits in 63 bits): a longer number is not a range this
# server can mean, so the header is ignored like any malformed Range.
_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d{0,19})\s*-\s*(\d{0,19})\s*$", re.IGNORECASE)
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_LABEL_KEY = re.compile(r"^[A-Za-z0-9_.\-/]{1,64}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTENT_TYPE = re.compile(r"^[A-Za-z0-9!#$&^_.+\-]+/[A-Za-z0-9!#$&^_.+\-]+(\s*;[^\x00-\x1f]*)?$")
MAX_LABELS = 32


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte range a `Range` header asks for; None means the whole payload.

    Multiple ranges and unknown units are ignored (RFC 9110 allows serving the whole
    representation); a well-formed range that cannot be satisfied raises 416.
    """
    if header is None or "," in header:
        return None
    match = _RANGE.match(header)
    if not match or (not match.group(1) and not match.group(2)):
        return None
    first, last = match.group(1), match.group(2)
    if not first:  # suffix: the last n bytes
        n = int(last)
        if n == 0 or size == 0:
            raise _unsatisfiable(size)
        return max(0, size - n), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None  # syntactically invalid: ignored, like any malformed Range
    if start >= size:
        raise _unsatisfiable(size)
    return start, min(end, size - 1)


def _unsatisfiable(size: int) -> RangeNotSatisfiable:
    return RangeNotSatisfiable(f"range: the object has {size} bytes",
                               headers={"Content-Range": f"bytes */{size}"})


def parse_digest(x_sha256: str | None, digest: str | None,
                 content_digest: str | None) -> str | None:
    """The SHA-256 (lower-case hex) the client says the body has, from X-Content-SHA256
    (hex), Digest: sha-256=<base64 or hex> (RFC 3230) or Content-Digest: sha-256=:<b64>:
    (RFC 9530). None when the client sent none."""
    if x_sha256 is not None:
        if not _HEX64.match(x_sha256.strip()):
            raise BadRequest("X-Content-SHA256 must be 64 hex characters")
        return x_sha256.strip().lower()
    for field, header in (("Digest", digest), ("Content-Digest", content_digest)):
        if header is None:
            continue
        for item in header.split(","):
            algo, _, value = item.strip().partition("=")
            if algo.strip().lower() != "sha-256":
                continue
            value = value.strip().strip(":")
            if _HEX64.match(value):
                return value.lower()
            try:
                raw = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raw = b""
            if len(raw) != 32:
                raise BadRequest(f"{field}: sha-256 must be base64 (or hex) of 32 bytes")
            return raw.hex()
    return None


def check_content_type(value: str | None) -> str:
    if value is None or not value.strip():
        return "application/octet-stream"
    value = value.strip()
    if len(value) > 255 or not _CONTENT_TYPE.match(value):
        raise ValidationFailed("content_type: must be a media type like text/plain")
    return value


def check_filename(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if len(value) > 255 or _CONTROL.search(value) or "/" in value or "\\" in value:
        raise ValidationFailed("filename: up to 255 characters, no slashes or control "
                               "characters")
    return value


def parse_labels(header: str | None, query: list[str]) -> dict[str, str]:
    """Labels from `X-Object-Labels: k=v,k2=v2` and repeated `label=k:v` (or k=v)."""
    items: list[str] = []
    if header:
        items += [p for p in header.split(",") if p.strip()]
    items += query
    labels: dict[str, str] = {}
    for item in items:
        sep = "=" if "=" in item and (":" not in item or item.index("=") < item.index(":")) \
            else ":"
        key, found, value = item.partition(sep)
        key, value = key.strip(), value.strip()
        if not found or not _LABEL_KEY.match(key):
            raise ValidationFailed(f"labels: '{key[:64]}' is not key=value with a key of "
                                   "[A-Za-z0-9_.-/]{1,64}")
        if len(value) > 256 or _CONTROL.search(value):
            raise ValidationFailed(f"labels: value of '{key}' is over 256 characters or "
                                   "has control characters")
        labels[key] = value
    if len(labels) > MAX_LABELS:
        raise ValidationFailed(f"labels: at most {MAX_LABELS}")
    return labels
