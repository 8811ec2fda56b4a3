"""Time-limited download links: an HMAC-SHA256 over (tenant, object id, expiry).

The signature is the credential, so the download route needs no token; it verifies the
signature in constant time before it looks at anything else, then the expiry.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import quote, urlencode

from unison_shared.errors import Forbidden


def _message(tenant: str, object_id: str, expires: int) -> bytes:
    # Length-prefixed fields: no choice of tenant/id can collide with another's message.
    parts = [b"unison-object-download-v1", tenant.encode(), object_id.encode(),
             str(expires).encode()]
    return b"".join(len(p).to_bytes(4, "big") + p for p in parts)


def sign(key: bytes, tenant: str, object_id: str, expires: int) -> str:
    return hmac.new(key, _message(tenant, object_id, expires), hashlib.sha256).hexdigest()


def download_path(key: bytes, tenant: str, object_id: str, expires: int) -> str:
    query = urlencode({"expires": expires, "tenant": tenant,
                       "sig": sign(key, tenant, object_id, expires)})
    return f"/v1/objects/{quote(object_id, safe='')}/download?{query}"


def verify(key: bytes, tenant: str, object_id: str, expires: int, sig: str,
           now: float | None = None) -> None:
    expected = sign(key, tenant, object_id, expires)
    if not hmac.compare_digest(expected.encode(), sig.strip().lower().encode()):
        raise Forbidden("sig: the download link's signature does not verify")
    if (now if now is not None else time.time()) > expires:
        raise Forbidden("expires: the download link has expired")
