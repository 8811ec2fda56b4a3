"""Who is calling: the verified claims of a UnisonOS principal token."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# A workload or service token acts for a person only with this explicit scope.
ACT_FOR_PERSON_SCOPE = "persons:act"
# An operator (a service token) may erase or export any person of its tenant only with
# this scope, on top of persons:act (the admin routes name the person in their path).
PERSONS_ADMIN_SCOPE = "persons:admin"


# Identity claims are strings: anything else (a list, a number, an object) would become
# a tenant or person named after its Python repr ("['hhA']").
_ID_CLAIMS = ("sub", "person_id", "household_id", "principal_kind")


class ClaimTypeError(ValueError):
    """A token's identity claim is not a string."""


def _as_list(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v for v in value.replace(",", " ").split() if v)
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    return ()


@dataclass(frozen=True)
class Principal:
    sub: str
    person_id: str | None
    household_id: str | None
    kind: str = "person"
    roles: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    is_service: bool = False
    claims: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Principal:
        for name in _ID_CLAIMS:
            value = claims.get(name)
            if value is not None and not isinstance(value, str):
                raise ClaimTypeError(f"claim {name} must be a string")
        roles = _as_list(claims.get("roles"))
        is_service = (claims.get("type") == "service" and "service" in roles
                      and str(claims.get("sub", "")).startswith("service-"))
        person = claims.get("person_id")
        household = claims.get("household_id")
        return cls(
            sub=str(claims.get("sub", "")),
            person_id=str(person) if person else None,
            household_id=str(household) if household else None,
            kind=str(claims.get("principal_kind") or ("workload" if is_service else "person")),
            roles=roles,
            scopes=_as_list(claims.get("scopes", claims.get("scope"))),
            is_service=is_service,
            claims=claims,
        )

    @property
    def may_act_for_persons(self) -> bool:
        return (self.kind != "person" or self.is_service) and ACT_FOR_PERSON_SCOPE in self.scopes

    @property
    def is_operator(self) -> bool:
        """A service token allowed to erase and export persons (never a person token)."""
        return self.is_service and PERSONS_ADMIN_SCOPE in self.scopes \
            and ACT_FOR_PERSON_SCOPE in self.scopes
