"""Erasure receipts: what each store removed for one person, signed with the platform key.

A receipt is canonical JSON (sorted keys, no spaces) of the body, plus an Ed25519
signature over exactly those bytes and the public key that verifies it. Anyone holding
the platform's public key can check that a receipt was issued by the platform and was
not edited afterwards; the receipt holds ids and counts only, never personal data.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

RECEIPT_VERSION = 1
SIGNING_KEY_ENV = "UNISON_PLATFORM_SIGNING_KEY_FILE"


class ReceiptError(Exception):
    """A receipt or a signing key that cannot be used (message says why)."""


def canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_signing_key(path: Path | None) -> Ed25519PrivateKey:
    """The platform's Ed25519 key from a PEM (PKCS8) file: the option, else the
    UNISON_PLATFORM_SIGNING_KEY_FILE variable."""
    if path is None:
        env = os.environ.get(SIGNING_KEY_ENV)
        if not env:
            raise ReceiptError(f"no platform signing key: pass --signing-key or set "
                               f"{SIGNING_KEY_ENV}")
        path = Path(env)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise ReceiptError(f"cannot read the platform signing key {path}: "
                           f"{type(exc).__name__}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ReceiptError(f"{path} is not an Ed25519 private key")
    return key


def sign(body: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    public = key.public_key()
    public_raw = public.public_bytes(serialization.Encoding.Raw,
                                     serialization.PublicFormat.Raw)
    return {
        "receipt": body,
        "signature": {
            "algorithm": "Ed25519",
            "key_id": key_id(public),
            "public_key": base64.b64encode(public_raw).decode(),
            "value": base64.b64encode(key.sign(canonical(body))).decode(),
        },
    }


def verify(signed: dict[str, Any], trusted_public_b64: str | None = None) -> dict[str, Any]:
    """The receipt body when the signature holds (against `trusted_public_b64` when given,
    which a verifier should pin; else the key the receipt carries); ReceiptError if not."""
    try:
        body = signed["receipt"]
        sig = signed["signature"]
        public_b64 = trusted_public_b64 or sig["public_key"]
        if trusted_public_b64 and sig["public_key"] != trusted_public_b64:
            raise ReceiptError("the receipt was signed by another key than the trusted one")
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_b64))
        public.verify(base64.b64decode(sig["value"]), canonical(body))
    except InvalidSignature as exc:
        raise ReceiptError("the signature does not match the receipt") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise ReceiptError(f"not a signed receipt: {type(exc).__name__}") from exc
    if body.get("receipt_version") != RECEIPT_VERSION:
        raise ReceiptError(f"unknown receipt version {body.get('receipt_version')!r}")
    return dict(body)


def public_key_b64(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw,
                                        serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def create_signing_key(path: Path) -> str:
    """A new Ed25519 key as PKCS8 PEM, readable by its owner only; its public key."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return public_key_b64(key)
