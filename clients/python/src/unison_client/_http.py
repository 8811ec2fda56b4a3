"""The one HTTP path every surface takes: URL per service, auth, request id and
traceparent, error mapping, and retries (tenacity) for calls that are safe to repeat."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeAlias
from urllib.parse import quote

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from .errors import ConnectionError, error_from_response, error_from_transport
from .tracing import TRACEPARENT, current, new_request_id, new_traceparent

# Headers sent on every call: a mapping, or a callable asked before each call (a server
# passes one that returns the request id and traceparent of the request it is serving).
HeaderSource: TypeAlias = Mapping[str, str] | Callable[[], Mapping[str, str]]
_CANONICAL = {"x-request-id": "X-Request-Id", "traceparent": "traceparent"}

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})
_DOTS = {".": "%2E", "..": "%2E%2E"}


@dataclass(frozen=True)
class Route:
    """A method and path template of one service (`{name}` placeholders). Every route
    the client calls is declared once, so a test can hold them against the OpenAPI."""

    service: str
    method: str
    template: str
    # Placeholders whose value may hold '/' (a path converter on the server).
    slash_params: frozenset[str] = frozenset()

    def path(self, params: Mapping[str, str | int]) -> str:
        out = self.template
        for name, value in params.items():
            if name in self.slash_params:
                # Dot segments escaped, so the URL is not normalised on the way (a/../b
                # would silently become b): the service sees the path and judges it.
                encoded = "/".join(_DOTS.get(seg, quote(seg, safe=""))
                                   for seg in str(value).split("/"))
            else:
                encoded = quote(str(value), safe="")
            out = out.replace("{" + name + "}", encoded)
        return out


ROUTES: list[Route] = []


def route(method: str, template: str, *, service: str = "storage",
          slash_params: tuple[str, ...] = ()) -> Route:
    r = Route(service, method, template, frozenset(slash_params))
    ROUTES.append(r)
    return r


Query = Mapping[str, Any] | list[tuple[str, Any]] | None


class HTTP:
    def __init__(self, base_urls: Mapping[str, str], token: str | None,
                 client: httpx.AsyncClient, *, retries: int, backoff: float,
                 max_backoff: float, headers: HeaderSource | None = None) -> None:
        self.base_urls = {k: v.rstrip("/") for k, v in base_urls.items()}
        self.token = token
        self.default_headers = headers
        # The person a service token acts for (persons:act): sent as `person_id` on
        # every call, which scopes the call to that person (the identity rule).
        self.acting_for: str | None = None
        self.client = client
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff

    def url(self, r: Route, params: Mapping[str, str | int]) -> str:
        return self.base_urls[r.service] + r.path(params)

    def _headers(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers: dict[str, str] = {}
        source = self.default_headers
        if source is not None:
            for name, value in (source() if callable(source) else source).items():
                headers[_CANONICAL.get(name.lower(), name)] = value
        # The request id and traceparent: trace_context's, else the header source's, else
        # new ones (a malformed traceparent is replaced by a new trace).
        request_id, traceparent = current()
        headers["X-Request-Id"] = (request_id or headers.get("X-Request-Id")
                                   or new_request_id())
        traceparent = traceparent or headers.get("traceparent")
        headers["traceparent"] = (traceparent if traceparent and TRACEPARENT.match(traceparent)
                                  else new_traceparent())
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if extra:
            headers.update(extra)
        return headers

    def _wait(self, state: RetryCallState) -> float:
        delay = self.backoff * (2 ** (state.attempt_number - 1))
        delay *= 0.5 + random.random()  # noqa: S311 - jitter, not a secret
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, ConnectionError) and exc.retry_after is not None:
            delay = max(delay, exc.retry_after)
        return float(min(delay, self.max_backoff))

    def _retrying(self, retryable: bool) -> AsyncRetrying:
        return AsyncRetrying(stop=stop_after_attempt(1 + (self.retries if retryable else 0)),
                             wait=self._wait, retry=retry_if_exception_type(ConnectionError),
                             reraise=True)

    @staticmethod
    def retryable(method: str, headers: Mapping[str, str] | None,
                  idempotent: bool | None) -> bool:
        if idempotent is not None:
            return idempotent
        if headers and any(k.lower() == "idempotency-key" for k in headers):
            return True
        return method in SAFE_METHODS

    async def _send(self, request: httpx.Request, stream: bool) -> httpx.Response:
        try:
            response = await self.client.send(request, stream=True)
        except httpx.TransportError as exc:
            raise error_from_transport(exc, request.headers.get("x-request-id")) from exc
        if response.status_code >= 400:
            try:
                body = await response.aread()
            except httpx.TransportError as exc:
                raise error_from_transport(exc, request.headers.get("x-request-id")) from exc
            finally:
                await response.aclose()
            raise error_from_response(response, body)
        if not stream:
            try:
                await response.aread()
            except httpx.TransportError as exc:
                raise error_from_transport(exc, request.headers.get("x-request-id")) from exc
            finally:
                await response.aclose()
        return response

    def _build(self, r: Route, params: Mapping[str, str | int], query: Query, body: Any,
               content: Any, headers: Mapping[str, str]) -> httpx.Request:
        all_headers = dict(headers)  # already carries auth, request id and traceparent
        if callable(content):  # a factory: a fresh body for each attempt
            content = content()
        if body is not None:
            content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
            all_headers.setdefault("Content-Type", "application/json")
        query_params = _query(query)
        if self.acting_for and "person_id" not in query_params:
            query_params = query_params.add("person_id", self.acting_for)
        return self.client.build_request(r.method, self.url(r, params),
                                         params=query_params,
                                         content=content, headers=all_headers)

    async def request(self, r: Route, params: Mapping[str, str | int] | None = None, *,
                      query: Query = None, json: Any = None, content: Any = None,
                      headers: Mapping[str, str] | None = None,
                      idempotent: bool | None = None) -> httpx.Response:
        """Send and read the whole reply; raise the mapped error on 4xx/5xx. The same
        request id is sent on every attempt."""
        params = params or {}
        retryable = self.retryable(r.method, headers, idempotent)
        built_headers = self._headers(headers)
        async for attempt in self._retrying(retryable):
            with attempt:
                request = self._build(r, params, query, json, content, built_headers)
                return await self._send(request, stream=False)
        raise AssertionError("unreachable")  # pragma: no cover

    @asynccontextmanager
    async def stream(self, r: Route, params: Mapping[str, str | int] | None = None, *,
                     query: Query = None,
                     headers: Mapping[str, str] | None = None) -> AsyncIterator[httpx.Response]:
        """A reply whose body is read by the block (`aiter_bytes`); closed after."""
        params = params or {}
        built_headers = self._headers(headers)
        response: httpx.Response | None = None
        async for attempt in self._retrying(self.retryable(r.method, headers, None)):
            with attempt:
                request = self._build(r, params, query, None, None, built_headers)
                response = await self._send(request, stream=True)
        assert response is not None
        try:
            yield response
        except httpx.TransportError as exc:
            raise error_from_transport(exc, built_headers.get("X-Request-Id")) from exc
        finally:
            await response.aclose()


def _query(query: Query) -> httpx.QueryParams:
    """Query parameters without the None ones; booleans as true/false."""
    if query is None:
        return httpx.QueryParams()
    items = query.items() if isinstance(query, Mapping) else query
    out: list[tuple[str, str]] = []
    for key, value in items:
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif hasattr(value, "isoformat"):
            value = value.isoformat()
        out.append((key, str(value)))
    return httpx.QueryParams(tuple(out))
