"""Shapes shared by the legacy routes (contract.md): `{"ok": ...}` bodies, event ids."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse


def event_id(request: Request) -> str:
    """Legacy replies echo the caller's X-Event-ID, or mint one."""
    supplied = request.headers.get("x-event-id")
    return supplied[:128] if supplied else str(uuid.uuid4())


def fail(error: str, status: int = 200, **extra: Any) -> JSONResponse:
    """Legacy failure: mostly HTTP 200 with ok:false and an error code."""
    return JSONResponse({"ok": False, "error": error, **extra}, status_code=status)
