"""One error hierarchy for every service.

New routes render errors as RFC 9457 `application/problem+json`; legacy routes (the
paths existing UnisonOS callers use) keep FastAPI's `{"detail": ...}` shape for auth and
validation failures, and their routers return `{"ok": false, "error": ...}` themselves.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger("unison.errors")

PROBLEM_TYPE_BASE = "https://unison.dev/problems/"
NEW_API_PREFIX = "/v1"


class UnisonError(Exception):
    status = 500
    code = "internal-error"
    title = "Internal error"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra


class BadRequest(UnisonError):
    status, code, title = 400, "bad-request", "Bad request"


class Unauthorized(UnisonError):
    status, code, title = 401, "unauthorized", "Authentication required"


class Forbidden(UnisonError):
    status, code, title = 403, "forbidden", "Forbidden"


class NotFound(UnisonError):
    status, code, title = 404, "not-found", "Not found"


class Conflict(UnisonError):
    status, code, title = 409, "conflict", "Conflict"


class Gone(UnisonError):
    status, code, title = 410, "gone", "Gone"


class PersonErased(Gone):
    """A record sealed under a person's data key that no longer exists: the person was
    erased (crypto-shredding), e.g. a record brought back by restoring an older backup.
    Its content can never be returned; re-applying the erasure removes the record."""

    code, title = "person-erased", "The person's data was erased"


class PreconditionFailed(UnisonError):
    status, code, title = 412, "precondition-failed", "Precondition failed"


class PreconditionRequired(UnisonError):
    status, code, title = 428, "precondition-required", "Precondition required"


class PayloadTooLarge(UnisonError):
    status, code, title = 413, "payload-too-large", "Payload too large"


class RangeNotSatisfiable(UnisonError):
    status, code, title = 416, "range-not-satisfiable", "Range not satisfiable"


class ValidationFailed(UnisonError):
    status, code, title = 422, "validation-failed", "Validation failed"


class InsufficientStorage(UnisonError):
    status, code, title = 507, "insufficient-storage", "Insufficient storage"


class DependencyUnavailable(UnisonError):
    status, code, title = 503, "dependency-unavailable", "A backing service is unavailable"


def is_new_api(request: Request) -> bool:
    return request.url.path.startswith(NEW_API_PREFIX)


def problem_response(request: Request, status: int, code: str, title: str, detail: str,
                     extra: dict[str, Any] | None = None,
                     headers: dict[str, str] | None = None) -> JSONResponse:
    if not is_new_api(request):
        body: dict[str, Any] = {"detail": detail}
        if extra:
            body.update(extra)
        return JSONResponse(body, status_code=status, headers=headers)
    problem: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    request_id = request.headers.get("x-request-id") or getattr(request.state, "request_id", None)
    if request_id:
        problem["request_id"] = request_id
    if extra:
        problem.update(extra)
    return JSONResponse(problem, status_code=status, media_type="application/problem+json",
                        headers=headers)


def _field_name(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "request"


def _describe(error: dict[str, Any]) -> dict[str, str]:
    """One validation error as {field, message}. A body that is not JSON at all is
    reported against `body` with where parsing stopped (its location is ("body", pos),
    which would otherwise name a field "12")."""
    if error.get("type") == "json_invalid":
        loc = error.get("loc", ())
        where = f" at character {loc[1]}" if len(loc) > 1 else ""
        reason = (error.get("ctx") or {}).get("error")
        return {"field": "body",
                "message": f"invalid JSON{where}" + (f": {reason}" if reason else "")}
    return {"field": _field_name(error.get("loc", ())), "message": error.get("msg", "invalid")}


# SQLSTATE class 22, "data exception": invalid text, untranslatable characters, ...
DATA_EXCEPTION_CLASS = "22"
# SQLSTATE class of the platform's own SQL functions' refusals (e.g. UA409: the audit
# chain is blocked), answered 409.
APP_CONFLICT_CLASS = "UA"


def _root(exc: BaseException) -> BaseException:
    """The driver's exception under SQLAlchemy's wrappers."""
    seen = 0
    while seen < 5:
        inner = getattr(exc, "orig", None) or exc.__cause__
        if inner is None or inner is exc:
            return exc
        exc, seen = inner, seen + 1
    return exc


def _sqlstate(exc: BaseException) -> str | None:
    for candidate in (exc, getattr(exc, "orig", None), _root(exc)):
        state = getattr(candidate, "sqlstate", None)
        if isinstance(state, str):
            return state
    return None


def _is_unavailable(exc: BaseException, state: str | None) -> bool:
    """Connection failures and server shutdowns (SQLSTATE 08xxx, 57P0x), and the
    driver's own state machine breaking when the server ends a backend mid-statement
    (InternalClientError, seen when PostgreSQL is killed under load)."""
    import asyncpg

    if state is not None and (state.startswith("08") or state.startswith("57P")):
        return True
    return isinstance(_root(exc), ConnectionError | TimeoutError | asyncpg.InterfaceError
                      | asyncpg.exceptions.InternalClientError)


def install_error_handlers(app: FastAPI) -> None:
    async def unison_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, UnisonError)
        headers = exc.extra.pop("headers", None) if exc.extra else None
        return problem_response(request, exc.status, exc.code, exc.title, exc.detail,
                                exc.extra or None, headers)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [_describe(e) for e in exc.errors()]
        first = errors[0] if errors else {"field": "request", "message": "invalid"}
        detail = f"{first['field']}: {first['message']}"
        if not is_new_api(request):
            # Legacy callers expect 400 for malformed bodies.
            return JSONResponse({"ok": False, "error": "invalid-request", "detail": detail,
                                 "errors": errors}, status_code=400)
        return problem_response(request, 422, "validation-failed", "Validation failed", detail,
                                {"errors": errors})

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return problem_response(request, exc.status_code, f"http-{exc.status_code}",
                                str(exc.detail), str(exc.detail),
                                headers=dict(exc.headers) if exc.headers else None)

    async def database_error(request: Request, exc: Exception) -> JSONResponse:
        state = _sqlstate(exc)
        if state is not None and state.startswith(DATA_EXCEPTION_CLASS):
            # PostgreSQL refused a value the caller sent (a NUL character, an unsupported
            # escape): the caller's input, not a server fault. The value is not echoed.
            return problem_response(request, 422, "unstorable-value", "Unstorable value",
                                    f"a value in the request cannot be stored: "
                                    f"{type(_root(exc)).__name__}")
        if state is not None and state.startswith(APP_CONFLICT_CLASS):
            # A rule the database enforces refused the request (the platform's own
            # SQLSTATE class, raised by its SQL functions with a message written for
            # an operator; it carries no request data).
            return problem_response(request, 409, "conflict", "Conflict",
                                    str(getattr(_root(exc), "message", "")
                                        or "refused by the database"))
        if _is_unavailable(exc, state):
            return await dependency_down(request, exc)
        return await unexpected(request, exc)

    async def dependency_down(request: Request, exc: Exception) -> JSONResponse:
        # The database (or another backing store) is unreachable: nothing was stored,
        # and the client may retry. Readiness reports the same condition.
        logger.warning("backing store unavailable on %s %s: %s", request.method,
                       request.url.path, type(_root(exc)).__name__)
        return problem_response(request, 503, "dependency-unavailable",
                                "A backing service is unavailable",
                                "a backing store is unreachable; retry later",
                                headers={"Retry-After": "1"})

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Log the type and route only: exception messages can carry payload fragments.
        logger.error("unhandled error on %s %s: %s", request.method, request.url.path,
                     type(exc).__name__, exc_info=exc)
        # Connection: close, so a pooled client does not send its next request on a
        # connection the server is about to drop (the error propagates to the server).
        return problem_response(request, 500, "internal-error", "Internal error",
                                "the server failed to handle this request",
                                headers={"Connection": "close"})

    app.add_exception_handler(UnisonError, unison_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(ConnectionError, dependency_down)
    app.add_exception_handler(Exception, unexpected)
    app.state.database_error_handler = database_error


def install_database_error_handlers(app: FastAPI) -> None:
    """PostgreSQL's errors as answers (422 for a value it refused, 503 while it is
    unreachable): for services that use it, so the others need no driver installed."""
    import asyncpg
    from sqlalchemy.exc import DBAPIError

    handler = app.state.database_error_handler
    for exc_type in (asyncpg.PostgresError, asyncpg.InterfaceError,
                     asyncpg.exceptions.InternalClientError, DBAPIError):
        app.add_exception_handler(exc_type, handler)
