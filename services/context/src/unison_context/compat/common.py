"""Shapes shared by the legacy routes: ok:false bodies, event ids, JSON bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import JSONResponse

from unison_shared.auth import RequestContext
from unison_shared.errors import Forbidden


def event_id(request: Request) -> str:
    """Legacy replies echo the caller's X-Event-ID, or mint one."""
    supplied = request.headers.get("x-event-id")
    return supplied[:128] if supplied else str(uuid.uuid4())


def fail(error: str, status: int = 400, field: str | None = None,
         reason: str | None = None) -> JSONResponse:
    """Legacy failure: ok:false with the legacy error code, and the field it is about."""
    body: dict[str, Any] = {"ok": False, "error": error}
    if field is not None:
        body["field"] = field
    if reason is not None:
        body["reason"] = reason
    return JSONResponse(body, status_code=status)


class BodyError(Exception):
    def __init__(self, response: JSONResponse) -> None:
        self.response = response


def _named(value: Any, found: set[str], depth: int = 0) -> None:
    if depth > 32:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("person_id", "user_id") and isinstance(item, str | int) and item != "":
                found.add(str(item))
            _named(item, found, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _named(item, found, depth + 1)


async def json_object(request: Request, ctx: RequestContext) -> dict[str, Any]:
    """The request body as a JSON object, or BodyError with the legacy 400 answer.

    The kit applies the identity rule to bodies sent as application/json; a body sent
    with another content type is parsed here, so the rule is applied here as well."""
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise BodyError(fail("invalid-json", field="body", reason="not JSON")) from None
    if not isinstance(body, dict):
        raise BodyError(fail("invalid-request", field="body", reason="must be a JSON object"))
    found: set[str] = set()
    _named(body, found)
    if found - {ctx.person_id}:
        raise Forbidden("person_id does not match the token's person")
    return body


def epoch(at: datetime | None) -> float | None:
    return at.timestamp() if at is not None else None
