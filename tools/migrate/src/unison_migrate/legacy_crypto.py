"""The older context service's encryption, read only: values that start with `p1:` are
Fernet tokens under a per-person key derived as

    urlsafe_b64encode(HMAC-SHA256(root secret, key_handle + b"\\0" + purpose))

with purpose `unison-context:profile` or `unison-context:dashboard`. Fernet is used
here only to read that data; everything is re-encrypted under the platform's scheme."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Literal

from cryptography.fernet import Fernet, InvalidToken

PREFIX = "p1:"
Purpose = Literal["profile", "dashboard"]


class LegacyDecryptError(Exception):
    """A `p1:` value that cannot be decrypted (wrong secret or handle, or corrupt)."""


def derive_key(root_secret: bytes, key_handle: str, purpose: Purpose) -> bytes:
    info = key_handle.encode() + b"\x00" + f"unison-context:{purpose}".encode()
    return base64.urlsafe_b64encode(hmac.new(root_secret, info, hashlib.sha256).digest())


def encrypt(root_secret: bytes, key_handle: str, purpose: Purpose, plaintext: bytes) -> str:
    """A `p1:` value as the older service wrote it (tests build legacy files with it)."""
    token = Fernet(derive_key(root_secret, key_handle, purpose)).encrypt(plaintext)
    return PREFIX + token.decode()


def decrypt(root_secret: bytes, key_handle: str | None, purpose: Purpose, value: str) -> bytes:
    if key_handle is None:
        raise LegacyDecryptError("no key_handle for this person (pass --key-handles)")
    try:
        return Fernet(derive_key(root_secret, key_handle, purpose)).decrypt(
            value[len(PREFIX):].encode())
    except (InvalidToken, ValueError) as exc:
        raise LegacyDecryptError("cannot decrypt the p1: value (wrong root secret or "
                                 "key_handle, or a corrupt token)") from exc
