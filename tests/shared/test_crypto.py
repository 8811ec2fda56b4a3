"""Envelope encryption primitives: seal/open, AAD binding, keyrings and their loading."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from unison_shared.crypto import (
    CryptoError,
    Keyring,
    load_keyring,
    new_data_key,
    open_sealed,
    record_aad,
    save_keyring,
    seal,
)


def test_seal_open_roundtrip_with_fresh_nonces():
    key, aad = new_data_key(), record_aad("t1", "vault", "rec", 1)
    a, b = seal(key, b"secret", aad), seal(key, b"secret", aad)
    assert a != b and b"secret" not in a
    assert open_sealed(key, a, aad) == b"secret" == open_sealed(key, b, aad)


@pytest.mark.parametrize("other", [
    record_aad("t2", "vault", "rec", 1),
    record_aad("t1", "vault", "rec2", 1),
    record_aad("t1", "vault", "rec", 2),
    record_aad("t1", "kv", "rec", 1),
])
def test_wrong_aad_fails(other):
    key = new_data_key()
    blob = seal(key, b"secret", record_aad("t1", "vault", "rec", 1))
    with pytest.raises(CryptoError):
        open_sealed(key, blob, other)


def test_aad_encoding_is_unambiguous():
    assert record_aad("a:b", "c", "d") != record_aad("a", "b:c", "d")
    assert record_aad("ab", "c", "d") != record_aad("a", "bc", "d")


def test_wrong_key_tampering_and_truncation_fail():
    key, aad = new_data_key(), b"aad"
    blob = seal(key, b"secret", aad)
    with pytest.raises(CryptoError):
        open_sealed(new_data_key(), blob, aad)
    with pytest.raises(CryptoError):
        open_sealed(key, blob[:-1] + bytes([blob[-1] ^ 1]), aad)
    with pytest.raises(CryptoError):
        open_sealed(key, blob[:20], aad)


def test_keyring_json_roundtrip_and_new_version():
    ring = Keyring.generate()
    assert Keyring.from_json(ring.to_json()) == ring
    newer = ring.with_new_version()
    assert newer.current == "v2" and newer.keys["v1"] == ring.keys["v1"]
    assert newer.keys["v2"] != ring.keys["v1"]
    version, wrapped = ring.wrap(b"k" * 32, b"aad")
    assert version == "v1"
    # The newer ring still unwraps what the old version wrapped; the old cannot open v2.
    assert newer.unwrap("v1", wrapped, b"aad") == b"k" * 32
    v2, wrapped2 = newer.wrap(b"k" * 32, b"aad")
    with pytest.raises(CryptoError):
        ring.unwrap(v2, wrapped2, b"aad")


@pytest.mark.parametrize("raw", ["", "{}", '{"current": "v1", "keys": {}}',
                                 '{"current": "v1", "keys": {"v1": "c2hvcnQ="}}'])
def test_bad_keyring_json_is_refused(raw):
    with pytest.raises(ValueError, match="KEK"):
        Keyring.from_json(raw)


def test_load_keyring_sources_dev_generation_and_production_refusal(tmp_path: Path):
    ring = Keyring.generate()
    assert load_keyring(ring.to_json(), None, tmp_path, allow_generate=False) == ring
    path = tmp_path / "ring.json"
    save_keyring(ring, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_keyring(None, path, tmp_path, allow_generate=False) == ring

    state = tmp_path / "state"
    generated = load_keyring(None, None, state, allow_generate=True)
    kek_file = state / "keys" / "kek.json"
    assert stat.S_IMODE(os.stat(kek_file).st_mode) == 0o600
    # Stable across restarts: the second load reads the generated file back.
    assert load_keyring(None, None, state, allow_generate=True) == generated

    with pytest.raises(ValueError, match="production needs a KEK"):
        load_keyring(None, None, tmp_path / "prod", allow_generate=False)
    assert not (tmp_path / "prod").exists()
