"""Time-limited download links: an HMAC-SHA256 over (tenant, object id, expiry, blob tag).

The signature is the credential, so the download route needs no token; it verifies the
signature in constant time before it looks at anything else, then the expiry. The blob
tag names the stored payload the link was made for: once the object is deleted or its id
reused for another upload, the link stops working instead of serving other content.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import quote, urlencode

from unison_shared.errors import Forbidden


def blob_tag(storage_key: str) -> str:
    """A short public name for one stored payload (not the storage key itself)."""
    return hashlib.sha256(storage_key.encode()).hexdigest()[:16]


def _message(tenant: str, object_id: str, expires: int, tag: str) -> bytes:
    # Length-prefixed fields: no choice of tenant/id can collide with another's message.
    parts = [b"unison-object-download-v2", tenant.encode(), object_id.encode(),
             str(expires).encode(), tag.encode()]
    return b"".join(len(p).to_bytes(4, "big") + p for p in parts)


def sign(key: bytes, tenant: str, object_id: str, expires: int, tag: str) -> str:
    return hmac.new(key, _message(tenant, object_id, expires, tag),
                    hashlib.sha256).hexdigest()


def download_path(key: bytes, tenant: str, object_id: str, expires: int, tag: str) -> str:
    query = urlencode({"expires": expires, "tenant": tenant, "v": tag,
                       "sig": sign(key, tenant, object_id, expires, tag)})
    return f"/v1/objects/{quote(object_id, safe='')}/download?{query}"


def verify(key: bytes, tenant: str, object_id: str, expires: int, tag: str, sig: str,
           now: float | None = None) -> None:
    expected = sign(key, tenant, object_id, expires, tag)
    if not hmac.compare_digest(expected.encode(), sig.strip().lower().encode()):
        raise Forbidden("sig: the download link's signature does not verify")
    if (now if now is not None else time.time()) > expires:
        raise Forbidden("expires: the download link has expired")
