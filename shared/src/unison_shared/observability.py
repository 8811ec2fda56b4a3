"""Request ids, W3C traceparent and Prometheus metrics, as one pure ASGI middleware.

Pure ASGI (not BaseHTTPMiddleware) so streaming uploads and downloads pass through
without buffering, and the per-request overhead stays small on hot paths.

The request id and traceparent of the request being served are in context variables
(`request_id_var`, `traceparent_var`), so the JSON logs carry them and a call to another
service forwards them (`trace_headers`, the header source the storage client hands
`unison_client`). Figures that only need reading when Prometheus scrapes (pool sizes,
cache hits and misses) are plain integers turned into metrics by a collector at scrape
time, never a metric update per request (docs/observability.md).
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, Metric
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .logging import request_id_var, traceparent_var

logger = logging.getLogger("unison.http")

_TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    """The per-app Prometheus registry (one per app so tests can build many apps)."""

    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total", "HTTP requests by route template and status",
            ["service", "method", "route", "status"], registry=self.registry)
        self.latency = Histogram(
            "http_request_duration_seconds", "HTTP request latency by route template",
            ["service", "method", "route"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.in_flight = Gauge("http_requests_in_flight", "Requests being served",
                               ["service"], registry=self.registry)
        self.service = service
        # `.labels()` takes a lock and builds a key on every call (about 20 us per request
        # on the benchmark machine); the label sets are few, so keep their children.
        self.in_flight_child = self.in_flight.labels(service)
        self._children: dict[tuple[str, str, str], tuple[Any, Any]] = {}
        # Every cache of the service counts its lookups here (cache_*_total).
        self.caches = CacheCounters()
        self.registry.register(self.caches)

    def observe(self, method: str, route: str, status: str, seconds: float) -> None:
        """Count a finished request and record its latency."""
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = (self.requests.labels(self.service, method, route, status),
                        self.latency.labels(self.service, method, route))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def counter(self, name: str, doc: str, labels: list[str]) -> Counter:
        return Counter(name, doc, labels, registry=self.registry)


class CacheCounters:
    """Cache lookups by cache name and outcome (hit, miss, error), as plain integers:
    a lookup costs one dict update; the counters are built when Prometheus scrapes.
    The hit ratio is hits / (hits + misses): errors (the cache unreachable, the value read
    from the source) are counted apart."""

    EVENTS = {"hit": "cache_hits_total", "miss": "cache_misses_total",
              "error": "cache_errors_total"}
    _DOCS = {"hit": "Cache lookups answered from the cache, by cache",
             "miss": "Cache lookups that found nothing, by cache",
             "error": "Cache lookups or writes that failed (cache unreachable), by cache"}

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], int] = {}

    def count(self, cache: str, event: str) -> None:
        key = (cache, event)
        self.counts[key] = self.counts.get(key, 0) + 1

    def value(self, cache: str, event: str) -> int:
        return self.counts.get((cache, event), 0)

    def _families(self) -> dict[str, CounterMetricFamily]:
        # The family name without `_total`: prometheus_client appends it.
        return {event: CounterMetricFamily(name.removesuffix("_total"), self._DOCS[event],
                                           labels=["cache"])
                for event, name in self.EVENTS.items()}

    def describe(self) -> Iterator[Metric]:
        yield from self._families().values()

    def collect(self) -> Iterator[Metric]:
        families = self._families()
        for (cache, event), n in sorted(self.counts.items()):
            family = families.get(event)
            if family is not None:
                family.add_metric([cache], n)
        yield from families.values()


def trace_headers() -> dict[str, str]:
    """The request id and traceparent of the request being served, as headers for a call
    to another service (empty outside a request): the callee logs the same request id."""
    headers = {}
    rid = request_id_var.get()
    if rid:
        headers["X-Request-ID"] = rid
    traceparent = traceparent_var.get()
    if traceparent:
        headers["traceparent"] = traceparent
    return headers


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _trace_ids(scope: Scope) -> tuple[str, str]:
    """The caller's request id and traceparent when well-formed, else fresh ones."""
    rid = _header(scope, b"x-request-id")
    if rid is not None and not _REQUEST_ID.match(rid):
        rid = None
    traceparent = _header(scope, b"traceparent")
    if traceparent is not None and not _TRACEPARENT.match(traceparent):
        traceparent = None
    if rid is not None and traceparent is not None:
        return rid, traceparent
    # One getrandom() call for both ids: each call is a syscall, dear on small VMs.
    fresh = secrets.token_hex(40)
    return rid or fresh[:32], traceparent or f"00-{fresh[32:64]}-{fresh[64:80]}-01"


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics, access_log: bool = True) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid, traceparent = _trace_ids(scope)
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        state["traceparent"] = traceparent
        token = request_id_var.set(rid)
        tp_token = traceparent_var.set(traceparent)
        status_holder: dict[str, Any] = {"status": 500}
        extra_headers = [(b"x-request-id", rid.encode()), (b"traceparent", traceparent.encode())]

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                message["headers"] = list(message.get("headers", [])) + extra_headers
            await send(message)

        started = time.perf_counter()
        self.metrics.in_flight_child.inc()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            self.metrics.in_flight_child.dec()
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            status = status_holder["status"]
            self.metrics.observe(method, template, str(status), elapsed)
            if status >= 500:
                logger.warning("request failed", extra={
                    "method": method, "route": template, "status": status,
                    "duration_ms": round(elapsed * 1000, 2)})
            elif self.access_log and logger.isEnabledFor(logging.INFO):
                # The route template, never the raw path: paths carry keys and names.
                logger.info("request", extra={
                    "method": method, "route": template, "status": status,
                    "duration_ms": round(elapsed * 1000, 2)})
            request_id_var.reset(token)
            traceparent_var.reset(tp_token)
