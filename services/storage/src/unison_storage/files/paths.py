"""File paths: what a path may be, and the string arithmetic of S3-style listings.

A path is 1 to 1024 bytes of UTF-8, segments separated by `/`: no leading or trailing
`/`, no empty segment (`a//b`), no `.` or `..` segment, no segment over 255 bytes, no
control characters or backslashes. Paths compare byte-wise (the column is `COLLATE "C"`),
so a listing's order is the same on every database.
"""

from __future__ import annotations

import re

from unison_shared.errors import ValidationFailed

MAX_PATH_BYTES = 1024
MAX_SEGMENT_BYTES = 255
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f\\]")


def check_path(path: str, field: str = "path") -> str:
    size = len(path.encode("utf-8", "surrogatepass"))
    if size == 0 or size > MAX_PATH_BYTES:
        raise ValidationFailed(f"{field}: 1 to {MAX_PATH_BYTES} bytes of UTF-8")
    if _FORBIDDEN.search(path):
        raise ValidationFailed(f"{field}: no control characters or backslashes")
    try:
        path.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationFailed(f"{field}: not valid Unicode") from exc
    for segment in path.split("/"):
        if segment == "":
            raise ValidationFailed(f"{field}: empty segment (a leading, trailing or "
                                   "doubled '/')")
        if segment in (".", ".."):
            raise ValidationFailed(f"{field}: '.' and '..' segments are not allowed")
        if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
            raise ValidationFailed(f"{field}: a segment is over {MAX_SEGMENT_BYTES} bytes")
    return path


def check_prefix(prefix: str) -> str:
    """A listing prefix: any start of a valid path ('' lists everything)."""
    if len(prefix.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES \
            or _FORBIDDEN.search(prefix):
        raise ValidationFailed(f"prefix: up to {MAX_PATH_BYTES} bytes, no control "
                               "characters or backslashes")
    return prefix


def successor(prefix: str) -> str | None:
    """The least string greater than every string that starts with `prefix` (None for
    the empty prefix: nothing bounds it)."""
    if not prefix:
        return None
    last = prefix[-1]
    if ord(last) >= 0x10FFFF:
        return successor(prefix[:-1])
    step = 0xE000 if 0xD800 <= ord(last) + 1 <= 0xDFFF else ord(last) + 1
    return prefix[:-1] + chr(step)


def after(path: str) -> str:
    """The least valid path greater than `path` (paths hold no control characters)."""
    return path + "\x01"


def basename(path: str) -> str:
    return path.rsplit("/", 1)[-1]
