"""Signed audit checkpoints: the platform's Ed25519 key signs a tenant's chain head.

A hash chain alone cannot show that its tail was cut off (with the head moved back) or
that an event was rewritten and every later hash recomputed: whoever can write the rows
can make a consistent chain. A checkpoint `(tenant, seq, hash, time)` signed with a key
the database never holds pins the chain at `seq`: a chain that no longer has that hash
at that sequence number, or has fewer events, fails verification against it. What it
proves is bounded by where the checkpoints are kept: a caller who keeps copies of the
checkpoints it fetched (as a Certificate-Transparency monitor keeps signed tree heads)
can detect a rewrite of anything up to them, even by an operator who also deletes the
stored ones; events after the newest checkpoint are protected by the chain alone.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

_TAG = b"unison-audit-checkpoint-v1"


def _field(value: str) -> bytes:
    raw = value.encode()
    return len(raw).to_bytes(4, "big") + raw


def checkpoint_message(tenant: str, seq: int, head_hash: str, at: datetime) -> bytes:
    """The exact bytes a checkpoint's signature covers (length-prefixed fields, the time
    in UTC microseconds since the epoch)."""
    micros = int(at.astimezone(UTC).timestamp() * 1_000_000)
    return _TAG + b"".join(_field(v) for v in (tenant, str(seq), head_hash, str(micros)))


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey

    @property
    def public_raw(self) -> bytes:
        return self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def key_id(self) -> str:
        """Names the key a checkpoint was signed with (a hash of the public key)."""
        return hashlib.sha256(self.public_raw).hexdigest()[:16]

    @property
    def public_b64(self) -> str:
        return base64.b64encode(self.public_raw).decode()

    def sign(self, message: bytes) -> bytes:
        return self.private.sign(message)


def signature_valid(public_b64: str, signature: bytes, message: bytes) -> bool:
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_b64))
        key.verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def load_signing_key(inline: str | None, file: Path | None, state_dir: Path,
                     allow_generate: bool) -> SigningKey:
    """The key from a setting (base64 of the 32-byte seed), a file holding the same, or
    (dev and test only) one generated once into the state directory."""
    if inline:
        return _from_b64(inline)
    if file is not None:
        return _from_b64(file.read_text().strip())
    if not allow_generate:
        raise ValueError("production needs an audit signing key: set "
                         "STORAGE_AUDIT_SIGNING_KEY or STORAGE_AUDIT_SIGNING_KEY_FILE")
    path = state_dir / "keys" / "audit-signing.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        seed = base64.b64encode(os.urandom(32)).decode()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process of this state directory won
            return _from_b64(path.read_text().strip())
        with os.fdopen(fd, "w") as fh:
            fh.write(seed)
    return _from_b64(path.read_text().strip())


def _from_b64(seed_b64: str) -> SigningKey:
    seed = base64.b64decode(seed_b64)
    if len(seed) != 32:
        raise ValueError("the audit signing key must be base64 of a 32-byte Ed25519 seed")
    return SigningKey(Ed25519PrivateKey.from_private_bytes(seed))
