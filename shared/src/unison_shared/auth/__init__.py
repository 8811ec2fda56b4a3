"""Bearer-JWT authentication and the identity rule (contract.md § Auth)."""

from .dependencies import RequestContext, authenticated
from .principal import ACT_FOR_PERSON_SCOPE, Principal
from .verifier import TokenVerifier

__all__ = ["ACT_FOR_PERSON_SCOPE", "Principal", "RequestContext", "TokenVerifier",
           "authenticated"]
