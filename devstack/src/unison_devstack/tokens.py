"""Development tokens: HS256 JWTs shaped like UnisonOS principal tokens."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt


def mint_token(secret: str, *, person_id: str | None, household_id: str | None,
               audience: str | list[str] = "storage", ttl_seconds: int = 3600,
               **claims: Any) -> str:
    now = int(time.time())
    payload: dict[str, Any] = {
        "sub": claims.pop("sub", person_id or f"workload-{uuid.uuid4().hex[:8]}"),
        "aud": audience,
        "iat": now,
        "exp": now + ttl_seconds,
        "roles": claims.pop("roles", ["person"] if person_id else []),
        "scopes": claims.pop("scopes", []),
    }
    if person_id is not None:
        payload["person_id"] = person_id
    if household_id is not None:
        payload["household_id"] = household_id
    payload.update(claims)
    return jwt.encode(payload, secret, algorithm="HS256")
