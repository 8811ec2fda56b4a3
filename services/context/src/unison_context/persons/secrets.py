"""What of a person's context is a secret, withheld from an export unless the person
asks with their own token: PIN/passcode hashes, the secret-like keys of a profile
(profiles.rules.redact) and the fields of payment instruments beyond their names."""

from __future__ import annotations

from typing import Any

from ..profiles.rules import MASK, redact

# Instrument fields that name an instrument without giving anything away.
INSTRUMENT_PUBLIC = frozenset({"instrument_id", "provider", "kind", "display_name", "brand",
                               "created_at"})


def _instrument(item: Any) -> Any:
    if not isinstance(item, dict):
        return MASK
    return {k: (v if k in INSTRUMENT_PUBLIC else MASK) for k, v in item.items()}


def redact_profile(profile: dict[str, Any]) -> dict[str, Any]:
    """The profile with every secret masked."""
    out: dict[str, Any] = redact(profile)
    payments = out.get("payments")
    if isinstance(payments, dict) and isinstance(payments.get("instruments"), list):
        out["payments"] = {**payments,
                           "instruments": [_instrument(i) for i in payments["instruments"]]}
    return out
