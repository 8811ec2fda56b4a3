"""The legacy failure shape of the graph services' old routes: the status code of the
error with `{"ok": false, "error": <code>, "detail": ...}` (and the error's extras, such
as the property a privacy refusal names)."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from ..errors import UnisonError


def legacy_error(exc: UnisonError) -> JSONResponse:
    extra: dict[str, Any] = dict(exc.extra)
    headers = extra.pop("headers", None)
    body = {"ok": False, "error": exc.code, "detail": exc.detail, **extra}
    return JSONResponse(body, status_code=exc.status, headers=headers)
