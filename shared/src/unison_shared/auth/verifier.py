"""Local JWT verification: HS256 with a shared secret (dev/test), RS256 against a JWKS URL
(production; keys cached and re-fetched when a token names an unknown `kid`)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import jwt

from ..errors import DependencyUnavailable, Forbidden
from ..settings import AuthSettings
from .principal import ClaimTypeError, Principal

_MIN_REFRESH_INTERVAL = 10.0
# Verified tokens are remembered until they expire: a signature check costs far more
# than a dict lookup, and callers reuse one token for many requests. The key is the whole
# token (signature included), so only the identical credential hits the cache.
_CACHE_MAX = 10_000


class TokenVerifier:
    def __init__(self, settings: AuthSettings, audience: str,
                 http: httpx.AsyncClient | None = None) -> None:
        if settings.hs256_secret is None and settings.jwks_url is None:
            raise ValueError("auth needs UNISON_AUTH_HS256_SECRET or UNISON_AUTH_JWKS_URL")
        self.settings = settings
        self.audience = audience
        self._http = http
        self._keys: dict[str, Any] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()
        self._verified: dict[str, tuple[Principal, float]] = {}

    async def verify(self, token: str) -> Principal:
        hit = self._verified.get(token)
        if hit is not None and hit[1] > time.time():
            return hit[0]
        principal, expires = await self._verify_uncached(token)
        if len(self._verified) >= _CACHE_MAX:
            self._verified.pop(next(iter(self._verified)))  # drop the oldest entry
        self._verified[token] = (principal, expires)
        return principal

    async def _verify_uncached(self, token: str) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Forbidden("malformed bearer token") from exc
        alg = header.get("alg")
        if alg == "HS256" and self.settings.hs256_secret is not None:
            key: Any = self.settings.hs256_secret.get_secret_value()
        elif alg in ("RS256", "ES256", "PS256") and self.settings.jwks_url:
            key = await self._jwks_key(str(header.get("kid", "")))
        else:
            raise Forbidden(f"token algorithm {alg!r} is not accepted")
        try:
            claims = jwt.decode(
                token, key, algorithms=[alg], audience=self.audience,
                issuer=self.settings.issuer, leeway=self.settings.leeway_seconds,
                options={"require": ["exp", "iat", "sub", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Forbidden("token expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise Forbidden(f"token audience does not name {self.audience!r}") from exc
        except jwt.PyJWTError as exc:
            raise Forbidden(f"invalid token: {type(exc).__name__}") from exc
        try:
            principal = Principal.from_claims(claims)
        except ClaimTypeError as exc:
            raise Forbidden(f"invalid token: {exc}") from exc
        if principal.is_service and not self.settings.accept_service_tokens:
            raise Forbidden("service tokens are not accepted by this deployment")
        return principal, float(claims["exp"])

    async def _jwks_key(self, kid: str) -> Any:
        key = self._keys.get(kid)
        stale = time.monotonic() - self._fetched_at > self.settings.jwks_cache_seconds
        if key is None or stale:
            await self._refresh()
            key = self._keys.get(kid)
        if key is None:
            raise Forbidden("token signed with an unknown key")
        return key

    async def _refresh(self) -> None:
        async with self._lock:
            since = time.monotonic() - self._fetched_at
            if since < _MIN_REFRESH_INTERVAL:
                return  # another request just refreshed; don't hammer the JWKS endpoint
            assert self.settings.jwks_url is not None
            client = self._http or httpx.AsyncClient(timeout=5)
            try:
                resp = await client.get(self.settings.jwks_url)
                resp.raise_for_status()
                jwks = jwt.PyJWKSet.from_dict(resp.json())
            except (httpx.HTTPError, jwt.PyJWTError, ValueError) as exc:
                if self._keys:
                    return  # keep serving with the keys we have
                raise DependencyUnavailable("the JWKS endpoint is unreachable") from exc
            finally:
                if self._http is None:
                    await client.aclose()
            self._keys = {k.key_id: k.key for k in jwks.keys if k.key_id}
            self._fetched_at = time.monotonic()
