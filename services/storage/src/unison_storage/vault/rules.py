"""Input rules of the vault: secret names, sizes, ETags and list cursors.

Names may contain '/' (hierarchies such as `payments/card-1`), so the API routes them
with a path converter; to keep `GET /secrets/{name}/metadata` unambiguous a name's last
segment may not be one of the action words, and empty, `.` and `..` segments (which
URL normalisation would rewrite) are refused.
"""

from __future__ import annotations

import base64
import re
from typing import TYPE_CHECKING, Any

from unison_shared import jsonutil
from unison_shared.errors import (
    BadRequest,
    Gone,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    UnisonError,
    ValidationFailed,
)

if TYPE_CHECKING:
    from .repository import SecretRow, VersionRow

NAME_RE = re.compile(r"[A-Za-z0-9_.:/\-]{1,256}")
RESERVED_LAST_SEGMENTS = frozenset({"metadata", "undelete", "destroy"})
MAX_VALUE_BYTES = 64 * 1024
MAX_METADATA_BYTES = 16 * 1024


def check_name(name: str, field: str = "name") -> str:
    if not NAME_RE.fullmatch(name):
        raise BadRequest(f"{field}: 1-256 characters from A-Z a-z 0-9 _ . : / -")
    segments = name.split("/")
    if any(s in ("", ".", "..") for s in segments):
        raise BadRequest(f"{field}: no empty, '.' or '..' segments between slashes")
    if segments[-1] in RESERVED_LAST_SEGMENTS:
        raise BadRequest(f"{field}: may not end in /metadata, /undelete or /destroy")
    return name


def encode_value(value: str) -> bytes:
    try:
        data = value.encode()
    except UnicodeEncodeError:
        # A lone surrogate ("\ud800" in the JSON body) has no UTF-8 form.
        raise ValidationFailed("value: must be valid Unicode (a lone surrogate is not)"
                               ) from None
    if len(data) > MAX_VALUE_BYTES:
        raise PayloadTooLarge(f"value: {len(data)} bytes; the limit is {MAX_VALUE_BYTES}")
    return data


def encode_metadata(metadata: dict[str, Any] | None) -> str | None:
    if metadata is None:
        return None
    return jsonutil.encode_jsonb(metadata, "metadata", MAX_METADATA_BYTES)


def etag_of(version: int) -> str:
    return f'"{version}"'


def expected_version(cas: int | None, if_match: str | None) -> int | None:
    """The version a write expects: the body's `cas` wins over an If-Match header."""
    if cas is not None or not if_match:
        return cas
    tag = if_match.strip().removeprefix("W/").strip('"')
    if not tag.isdigit():
        raise PreconditionFailed("If-Match must be an ETag this service issued")
    return int(tag)


def encode_cursor(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode()


def decode_cursor(cursor: str | None) -> str:
    if not cursor:
        return ""
    try:
        return base64.b64decode(cursor.encode(), altchars=b"-_", validate=True).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("cursor: not one this service issued") from exc


def read_error(name: str, wanted: int, secret: SecretRow | None,
               stored: VersionRow | None) -> UnisonError | None:
    """Why a read that found `secret` and its version `stored` returns no value (before
    decryption); None when there is a ciphertext to open. Its code is the read's audit
    status: PostgreSQL's read statement
    (`repository._READ_AUDITED`) computes the same codes in SQL."""
    if secret is None:
        return NotFound(f"no secret named {name}")
    if secret.deleted_at is not None:
        return Gone(f"secret {name} is deleted; POST .../undelete restores it")
    if stored is None:
        return NotFound(f"secret {name} has no version {wanted}")
    if stored.ciphertext is None:
        return Gone(f"version {wanted} of {name} was destroyed")
    return None
