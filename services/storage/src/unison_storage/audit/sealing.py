"""Audit payloads about a person, sealed under that person's data key.

An event a caller appends through the audit API that names a person (`person_id`)
keeps its ids (actor, action, target, person_id) in clear and its free-form payload
sealed: `{"$sealed": {"key": <dek>,
"blob": <base64>}}`, under the person's data key of the tenant key version `key`. The hash chain
covers that stored form, so the chain still verifies after the person's erasure has
destroyed the key; the payload then reads back as `{"erased": true}`. Events appended
before migration 0019 keep the payload they were written with; the events domains
append themselves (the vault's) hold only ids and numbers and stay in clear.
"""

from __future__ import annotations

import base64
import binascii
import logging
from typing import Any

import orjson

from unison_shared.crypto import CryptoError
from unison_shared.database import StatementConnection, decode_stored_json
from unison_shared.errors import PersonErased

from ..keys.service import DataKeyService, KeyOwner

logger = logging.getLogger("unison.storage.audit")

SEALED = "$sealed"
AAD_KIND = "audit"
ERASED: dict[str, Any] = {"erased": True}


def sealed_parts(payload: Any) -> tuple[int, bytes] | None:
    """(dek, blob) of a sealed payload; None for any other payload."""
    if not isinstance(payload, dict) or set(payload) != {SEALED}:
        return None
    inner = payload[SEALED]
    if not isinstance(inner, dict) or not isinstance(inner.get("key"), int) \
            or not isinstance(inner.get("blob"), str):
        return None
    try:
        return inner["key"], base64.b64decode(inner["blob"], validate=True)
    except (ValueError, binascii.Error):
        return None


async def seal(keys: DataKeyService, conn: StatementConnection, tenant_id: str,
               person_id: str, payload_json: str) -> str:
    """The stored JSON of a payload about `person_id`: sealed under their key."""
    dek, blob = await keys.encrypt(conn, KeyOwner(tenant_id, person_id), AAD_KIND,
                                   person_id, payload_json.encode())
    return orjson.dumps({SEALED: {"key": dek, "blob": base64.b64encode(blob).decode()}}
                        ).decode()


async def unseal(keys: DataKeyService, conn: StatementConnection, tenant_id: str,
                 person_id: str | None, payload: dict[str, Any]) -> dict[str, Any]:
    """A stored payload as the caller sees it: opened when sealed and its key exists,
    `{"erased": true}` when the key is gone, unchanged when not sealed."""
    parts = sealed_parts(payload)
    if parts is None or not person_id:
        return payload
    dek, blob = parts
    try:
        plain = await keys.decrypt(conn, KeyOwner(tenant_id, person_id), AAD_KIND,
                                   person_id, dek, blob)
    except (CryptoError, PersonErased):
        return dict(ERASED)
    # As the database decodes jsonb (json.loads): integers of any size stay exact.
    opened: dict[str, Any] = decode_stored_json(plain.decode())
    return opened
