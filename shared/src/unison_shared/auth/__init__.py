"""Bearer-JWT authentication and the identity rule (contract.md § Auth)."""

from .dependencies import (
    RequestContext,
    authenticated,
    is_own_person,
    require_export_access,
    require_operator,
)
from .principal import ACT_FOR_PERSON_SCOPE, PERSONS_ADMIN_SCOPE, Principal
from .verifier import TokenVerifier

__all__ = ["ACT_FOR_PERSON_SCOPE", "PERSONS_ADMIN_SCOPE", "Principal", "RequestContext",
           "TokenVerifier", "authenticated", "is_own_person", "require_export_access",
           "require_operator"]
