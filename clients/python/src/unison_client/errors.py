"""The client's exceptions: one class per failure a caller handles differently.

Every `/v1` error of the platform is RFC 9457 problem+json (`type`, `title`, `status`,
`detail`, `instance`, `request_id`, and `errors` on 422); each exception keeps that
document whole (`problem`) and the request id, so a log line can name the request the
server logged too.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class FieldError:
    """One entry of a 422's `errors`: the field (dotted path) and what is wrong with it."""

    field: str
    message: str


class UnisonError(Exception):
    """Root of every error this client raises. `status` is None when no reply came."""

    def __init__(self, detail: str, *, status: int | None = None,
                 problem: dict[str, Any] | None = None, request_id: str | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.problem: dict[str, Any] = problem or {}
        self.request_id = request_id
        self.retry_after = retry_after

    @property
    def title(self) -> str | None:
        title = self.problem.get("title")
        return title if isinstance(title, str) else None

    @property
    def type(self) -> str | None:
        kind = self.problem.get("type")
        return kind if isinstance(kind, str) else None

    def __str__(self) -> str:
        head = f"{self.status} " if self.status is not None else ""
        tail = f" (request {self.request_id})" if self.request_id else ""
        return f"{head}{self.detail}{tail}"


class BadRequestError(UnisonError):
    """400: the request was malformed in a way that is not a field's (a bad cursor, ...)."""


class PermissionDenied(UnisonError):
    """401 (no valid token) or 403 (the token does not allow this)."""


class NotFoundError(UnisonError):
    """404: no such record, or not one the caller may see."""


class GoneError(NotFoundError):
    """410: the record existed and was deleted or destroyed (a vault secret)."""


class DuplicateError(UnisonError):
    """409: the write conflicts with a record that already exists."""


class PreconditionFailed(UnisonError):
    """412: `If-Match`/`cas` named a version that is no longer current."""


class PayloadTooLargeError(UnisonError):
    """413: the value or upload is over the service's limit."""


class ValidationError(UnisonError):
    """422: the service refused the input; `errors` names each field."""

    @property
    def errors(self) -> list[FieldError]:
        raw = self.problem.get("errors")
        if not isinstance(raw, list):
            return []
        return [FieldError(str(e.get("field", "")), str(e.get("message", "")))
                for e in raw if isinstance(e, dict)]

    @property
    def fields(self) -> list[str]:
        return [e.field for e in self.errors]


class ConnectionError(UnisonError):
    """The service could not be reached, timed out, or answered 502/503/504."""


_BY_STATUS: dict[int, type[UnisonError]] = {
    400: BadRequestError, 401: PermissionDenied, 403: PermissionDenied,
    404: NotFoundError, 409: DuplicateError, 410: GoneError, 412: PreconditionFailed,
    413: PayloadTooLargeError, 422: ValidationError,
    502: ConnectionError, 503: ConnectionError, 504: ConnectionError,
}


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def error_from_response(response: httpx.Response, body: bytes) -> UnisonError:
    """The exception for an error reply (its body already read)."""
    problem: dict[str, Any] = {}
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        problem = parsed
    detail = problem.get("detail")
    if not isinstance(detail, str):
        detail = body.decode("utf-8", "replace")[:500] or response.reason_phrase
    request_id = problem.get("request_id")
    if not isinstance(request_id, str):
        request_id = response.headers.get("x-request-id") or response.request.headers.get(
            "x-request-id")
    cls = _BY_STATUS.get(response.status_code, UnisonError)
    return cls(detail, status=response.status_code, problem=problem, request_id=request_id,
               retry_after=_retry_after(response))


def error_from_transport(exc: httpx.TransportError, request_id: str | None) -> ConnectionError:
    """A ConnectionError for a request that got no reply (refused, reset, timed out)."""
    url = ""
    with contextlib.suppress(RuntimeError):  # raised before the request existed
        url = f" {exc.request.method} {exc.request.url}"
    reason = str(exc) or type(exc).__name__
    return ConnectionError(f"no reply to{url}: {reason}", request_id=request_id)
