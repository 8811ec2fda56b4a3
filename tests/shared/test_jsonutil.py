"""`encode_jsonb` refuses exactly the values jsonb cannot store: its NUL test searches the
encoded text, and must agree with a walk over the value on every string and key,
including literal backslashes that look like the escape."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from unison_shared.errors import PayloadTooLarge, ValidationFailed
from unison_shared.jsonutil import encode_jsonb


def _walk_has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_walk_has_nul(k) or _walk_has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_walk_has_nul(v) for v in value)
    return False


TRICKY = [
    "plain", "\x00", "a\x00", "\\u0000", "\\\x00", "\\\\u0000", "\\\\\x00", "\\\\\\u0000",
    "x\\", "\\", "u0000", "\x01\x00\x1f", "é\x00ü", "\\u0000\x00",
]


@pytest.mark.parametrize("text", TRICKY)
def test_nul_in_a_string_or_a_key_is_refused_and_only_then(text: str) -> None:
    for value in (text, {"k": text}, {text: 1}, [1, [text]], {"a": {"b": [text]}}):
        if _walk_has_nul(value):
            with pytest.raises(ValidationFailed, match="NUL"):
                encode_jsonb(value, "value", 1 << 20)
        else:
            encoded = encode_jsonb(value, "value", 1 << 20)
            assert json.loads(encoded) == value


def test_random_strings_agree_with_a_walk() -> None:
    rng = random.Random(11)
    alphabet = ["\\", "u", "0", "\x00", "a", '"', "\x1f"]
    for _ in range(5000):
        text = "".join(rng.choices(alphabet, k=rng.randint(0, 9)))
        value = {"k": [text], text: text[::-1]}
        refused = False
        try:
            encode_jsonb(value, "value", 1 << 20)
        except ValidationFailed:
            refused = True
        assert refused == _walk_has_nul(value), repr(text)


def test_other_refusals_name_the_field() -> None:
    with pytest.raises(ValidationFailed, match="payload: NaN"):
        encode_jsonb({"x": float("nan")}, "payload", 100)
    with pytest.raises(ValidationFailed, match="payload: strings must be valid Unicode"):
        encode_jsonb({"x": "\ud800"}, "payload", 100)
    with pytest.raises(PayloadTooLarge, match="payload is 12 bytes; the limit is 11"):
        encode_jsonb({"x": "1234"}, "payload", 11)
    assert encode_jsonb({"big": 10**30}, "payload", 100) == f'{{"big":{10**30}}}'
