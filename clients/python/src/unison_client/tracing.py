"""Request ids and W3C `traceparent`, propagated from the caller's context.

A service handling a request wraps its outgoing calls in `trace_context(request_id=...,
traceparent=...)` with the values it received, or gives the client a header source
(`UnisonClient(headers=...)`, a callable returning the current `X-Request-ID` and
`traceparent`), so one id follows the work across services; without either, each call
gets a fresh request id and a fresh trace. `trace_context` wins over the header source.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_request_id: ContextVar[str | None] = ContextVar("unison_request_id", default=None)
_traceparent: ContextVar[str | None] = ContextVar("unison_traceparent", default=None)

TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")


def new_request_id() -> str:
    return uuid.uuid4().hex


def new_traceparent() -> str:
    """A new trace: version 00, random trace and span ids, sampled."""
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


@contextmanager
def trace_context(request_id: str | None = None,
                  traceparent: str | None = None) -> Iterator[None]:
    """Calls made in the block carry this request id and traceparent (a malformed
    traceparent is replaced by a new trace rather than sent on)."""
    if traceparent is not None and not TRACEPARENT.match(traceparent):
        traceparent = None
    rid = _request_id.set(request_id)
    tp = _traceparent.set(traceparent)
    try:
        yield
    finally:
        _request_id.reset(rid)
        _traceparent.reset(tp)


def current() -> tuple[str | None, str | None]:
    """(request id, traceparent) set by `trace_context`, None where not set."""
    return _request_id.get(), _traceparent.get()


def outgoing() -> tuple[str, str]:
    """(request id, traceparent) for the next call: the context's, else new ones."""
    return _request_id.get() or new_request_id(), _traceparent.get() or new_traceparent()
