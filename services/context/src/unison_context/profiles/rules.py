"""Profile rules that need no database: validation of payment instruments, extraction of
PINs and passcodes (replaced by a mask before the profile is stored), the redacted view,
`unison_id`'s default and JSON merge-patch (RFC 7396)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from unison_shared.errors import ValidationFailed

MASK = "***"
INSTRUMENT_FIELDS = frozenset({"instrument_id", "provider", "kind", "display_name", "brand",
                               "last4", "expiry", "handle", "vault_key", "created_at"})
# Names that carry a card number or a provider token: refused, never stored.
REFUSED_INSTRUMENT_FIELDS = frozenset({
    "card_number", "cardnumber", "number", "pan", "cvv", "cvc", "cvv2", "security_code",
    "token", "provider_token", "payment_token", "account_number"})
CREDENTIAL_KINDS = {"pin": "pin", "pincode": "pin", "pin_code": "pin", "passcode": "passcode"}
SECRET_WORDS = ("passcode", "password", "passwd", "auth", "token", "secret", "faceprint",
                "voiceprint", "biometric")
_CARD_DIGITS = re.compile(r"(?:\d[ -]?){12,19}")
_WORDS = re.compile(r"[a-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_MAX_DEPTH = 64


class ProfileInvalid(ValidationFailed):
    """A profile refused, naming the field and the reason (legacy: invalid-profile)."""

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(f"{field_name}: {reason}", field=field_name, reason=reason)
        self.field = field_name
        self.reason = reason


def is_secret_key(key: str) -> bool:
    lowered = key.lower()
    if any(word in lowered for word in SECRET_WORDS):
        return True
    words = _WORDS.findall(_CAMEL.sub("_", key).lower())
    return any(w == "pin" or w.startswith("pincode") for w in words)


def redact(value: Any, depth: int = 0) -> Any:
    """A copy with the value of every secret-like key masked, at any depth."""
    if depth > _MAX_DEPTH:
        return MASK
    if isinstance(value, dict):
        return {k: (MASK if is_secret_key(k) else redact(v, depth + 1))
                for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, depth + 1) for v in value]
    return value


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: objects merge recursively, null removes a member, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


@dataclass
class Credentials:
    """PINs/passcodes found in a profile: `present` kinds remain set; `new` are the clear
    values to hash (a masked value keeps the stored hash)."""

    present: set[str] = field(default_factory=set)
    new: dict[str, str] = field(default_factory=dict)


def extract_credentials(value: Any, found: Credentials, path: str = "profile",
                        depth: int = 0) -> Any:
    """A copy of `value` with every PIN/passcode replaced by the mask, collected in found."""
    if depth > _MAX_DEPTH:
        raise ProfileInvalid(path, "nested too deeply")
    if isinstance(value, list):
        return [extract_credentials(v, found, f"{path}[{i}]", depth + 1)
                for i, v in enumerate(value)]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        kind = CREDENTIAL_KINDS.get(key.lower())
        where = f"{path}.{key}"
        if kind is None:
            out[key] = extract_credentials(item, found, where, depth + 1)
            continue
        if item is None:
            continue
        if isinstance(item, bool) or not isinstance(item, str | int):
            raise ProfileInvalid(where, "a PIN or passcode must be a string")
        secret = str(item)
        if secret != MASK:
            if not 4 <= len(secret) <= 128:
                raise ProfileInvalid(where, "a PIN or passcode has 4 to 128 characters")
            found.new[kind] = secret
        found.present.add(kind)
        out[key] = MASK
    return out


def _instrument(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ProfileInvalid(where, "a payment instrument must be an object")
    kept: dict[str, Any] = {}
    for key, item in raw.items():
        name = key.lower()
        if name in REFUSED_INSTRUMENT_FIELDS:
            raise ProfileInvalid(f"{where}.{key}", "card numbers and payment tokens are never "
                                 "stored in a profile: keep the token in the vault and "
                                 "name it with vault_key")
        if isinstance(item, str) and key != "vault_key" and _CARD_DIGITS.search(item):
            raise ProfileInvalid(f"{where}.{key}", "looks like a card number; only last4 "
                                 "is kept")
        if key in INSTRUMENT_FIELDS:
            kept[key] = item
    last4 = kept.get("last4")
    if last4 is not None and (not isinstance(last4, str) or len(last4) != 4):
        raise ProfileInvalid(f"{where}.last4", "must be a string of 4 characters")
    return kept


def _refuse_card_data(value: Any, where: str, depth: int = 0) -> None:
    """Anywhere under `payments`: a card number or token field is refused."""
    if depth > _MAX_DEPTH:
        raise ProfileInvalid(where, "nested too deeply")
    if isinstance(value, dict):
        for key, item in value.items():
            if key.lower() in REFUSED_INSTRUMENT_FIELDS:
                raise ProfileInvalid(f"{where}.{key}", "card numbers and payment tokens are "
                                     "never stored in a profile: keep the token in the vault "
                                     "and name it with vault_key")
            _refuse_card_data(item, f"{where}.{key}", depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _refuse_card_data(item, f"{where}[{i}]", depth + 1)


def normalize(profile: Any, person_id: str) -> dict[str, Any]:
    """The profile as stored: an object, instruments reduced to the allowed fields,
    `unison_id` defaulting to the person id. Raises ProfileInvalid."""
    if not isinstance(profile, dict):
        raise ProfileInvalid("profile", "must be a JSON object")
    out = dict(profile)
    payments = out.get("payments")
    if payments is not None:
        if not isinstance(payments, dict):
            raise ProfileInvalid("profile.payments", "must be an object")
        _refuse_card_data({k: v for k, v in payments.items() if k != "instruments"},
                          "profile.payments")
        instruments = payments.get("instruments")
        if instruments is not None:
            if not isinstance(instruments, list):
                raise ProfileInvalid("profile.payments.instruments", "must be a list")
            out["payments"] = {**payments, "instruments": [
                _instrument(item, f"profile.payments.instruments[{i}]")
                for i, item in enumerate(instruments)]}
    if not out.get("unison_id"):
        out["unison_id"] = person_id
    return out
