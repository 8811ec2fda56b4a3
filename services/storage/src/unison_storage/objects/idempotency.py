"""Idempotent uploads: `POST /v1/objects` with an `Idempotency-Key` header.

A client that never saw the reply to an upload (a timeout, a dropped connection) cannot
tell whether the object was stored; retrying must not store it twice. The key names the
object: its id is derived from the caller's tenant, person and key, so the first attempt
and every retry claim the same primary key and the database decides which one stores.
A retry with the same payload and metadata is answered with the stored object; the same
key with a different upload is refused, because the caller has mixed up two requests.
The key is remembered as long as the object exists.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from unison_shared.errors import BadRequest, ValidationFailed

from .repository import ObjectRow

HEADER = "Idempotency-Key"
# A fixed namespace: ids derived from keys are stable across processes and releases.
_NAMESPACE = uuid.UUID("fc57b21d-040f-4047-8b04-e6782f7a8387")
# Visible ASCII, as in the IETF draft's examples (a UUID is typical); optionally quoted,
# the draft's structured-field form.
_KEY = re.compile(r'^"?([\x21\x23-\x7e]{1,255})"?$')


def parse_key(value: str | None) -> str | None:
    if value is None:
        return None
    m = _KEY.match(value.strip())
    if m is None or m.group(0).count('"') == 1:
        raise BadRequest(f"{HEADER}: 1-255 visible ASCII characters, optionally quoted")
    return m.group(1)


def object_id_for(tenant_id: str, person_id: str, key: str) -> str:
    # Length-prefixed, so no two (tenant, person, key) triples share a name.
    name = "".join(f"{len(part)}:{part}" for part in (tenant_id, person_id, key))
    return str(uuid.uuid5(_NAMESPACE, name))


@dataclass(frozen=True)
class Attempt:
    """What a retry must repeat exactly to be answered with the stored object."""

    size_bytes: int
    sha256: str
    content_type: str
    filename: str | None
    labels: dict[str, str]

    def check_matches(self, stored: ObjectRow) -> None:
        same = (self.size_bytes == stored.size_bytes and self.sha256 == stored.sha256
                and self.content_type == stored.content_type
                and self.filename == stored.filename and self.labels == stored.labels)
        if not same:
            raise ValidationFailed(
                f"{HEADER}: already used for a different upload (object {stored.id}); use "
                "a new key for a new upload", object_id=stored.id)


async def digest(chunks: AsyncIterator[bytes], stop_after: int) -> tuple[int, str]:
    """Size and SHA-256 of a body that is not kept (a retry of a stored upload). Stops
    reading once the body is longer than `stop_after`: it cannot match any more."""
    sha = hashlib.sha256()
    size = 0
    async for chunk in chunks:
        sha.update(chunk)
        size += len(chunk)
        if size > stop_after:
            break
    return size, sha.hexdigest()
