"""Envelope encryption primitives.

A key-encryption key (KEK) never touches data: it wraps per-tenant data keys, and data
keys encrypt records with AES-256-GCM. The associated data (AAD) binds every ciphertext
to its tenant and record, so a ciphertext copied to another row or tenant fails to open.
KEKs are versioned in a keyring: the current version wraps, every version unwraps, so a
rotation adds a version and rewraps data keys while the service keeps running.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
KEY_BYTES = 32


class CryptoError(Exception):
    """A ciphertext failed to open: wrong key, wrong AAD, or tampering."""


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes, blob: bytes, aad: bytes) -> bytes:
    if len(blob) < NONCE_BYTES + 16:
        raise CryptoError("ciphertext is truncated")
    try:
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
    except InvalidTag as exc:
        raise CryptoError("ciphertext failed authentication") from exc


def record_aad(tenant_id: str, kind: str, record_id: str, version: int | str = 0) -> bytes:
    # Length-prefixed so no two different tuples share an encoding.
    parts = [tenant_id, kind, record_id, str(version)]
    return b"".join(len(p.encode()).to_bytes(4, "big") + p.encode() for p in parts)


def new_data_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


@dataclass(frozen=True)
class Keyring:
    current: str
    keys: dict[str, bytes]

    def __post_init__(self) -> None:
        if self.current not in self.keys:
            raise ValueError(f"keyring's current version {self.current!r} has no key")
        for version, key in self.keys.items():
            if len(key) != KEY_BYTES:
                raise ValueError(f"KEK {version!r} must be {KEY_BYTES} bytes")

    def wrap(self, data_key: bytes, aad: bytes) -> tuple[str, bytes]:
        return self.current, seal(self.keys[self.current], data_key, aad)

    def unwrap(self, kek_version: str, wrapped: bytes, aad: bytes) -> bytes:
        key = self.keys.get(kek_version)
        if key is None:
            raise CryptoError(f"KEK version {kek_version!r} is not in the keyring")
        return open_sealed(key, wrapped, aad)

    def with_new_version(self) -> Keyring:
        number = 1 + max((int(v[1:]) for v in self.keys if v[1:].isdigit()), default=0)
        version = f"v{number}"
        return Keyring(current=version, keys={**self.keys, version: new_data_key()})

    def to_json(self) -> str:
        return json.dumps({
            "current": self.current,
            "keys": {v: base64.b64encode(k).decode() for v, k in self.keys.items()},
        })

    @classmethod
    def from_json(cls, raw: str) -> Keyring:
        try:
            data = json.loads(raw)
            keys = {str(v): base64.b64decode(k) for v, k in data["keys"].items()}
            return cls(current=str(data["current"]), keys=keys)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError("KEK keyring must be JSON {current, keys: {version: base64}}") \
                from exc

    @classmethod
    def generate(cls) -> Keyring:
        return cls(current="v1", keys={"v1": new_data_key()})


def load_keyring(inline: str | None, file: Path | None, state_dir: Path,
                 allow_generate: bool) -> Keyring:
    """Keyring from an env value, a file, or (dev/test only) a generated state file."""
    if inline:
        return Keyring.from_json(inline)
    if file is not None:
        return Keyring.from_json(file.read_text())
    if not allow_generate:
        raise ValueError(
            "production needs a KEK: set UNISON_KEK_KEYRING or UNISON_KEK_KEYRING_FILE")
    path = state_dir / "keys" / "kek.json"
    if path.exists():
        return Keyring.from_json(path.read_text())
    path.parent.mkdir(parents=True, exist_ok=True)
    ring = Keyring.generate()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(ring.to_json())
    return ring


def save_keyring(ring: Keyring, path: Path) -> None:
    """Atomically replace a keyring file (used by rotation)."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(ring.to_json())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
