"""UnisonClient: one async client for the platform's services."""

from __future__ import annotations

import os
from types import TracebackType

import httpx

from ._http import HTTP, HeaderSource, route
from .models import WhoAmI
from .surfaces._base import parse
from .surfaces.agent import Artifacts, Messages, Threads, ThreadState
from .surfaces.audit_cache import Audit, Cache
from .surfaces.context import Conversations, Dashboards, Profiles
from .surfaces.files import Files
from .surfaces.metrics import Metrics
from .surfaces.objects import Objects
from .surfaces.records import KV, Memory, Vault
from .surfaces.vectors import Vectors

# What `make up` serves when nothing else is configured.
DEFAULT_URLS = {
    "storage": "http://127.0.0.1:8082",
    "context": "http://127.0.0.1:8081",
    "context-graph": "http://127.0.0.1:8091",
    "intent-graph": "http://127.0.0.1:8089",
}
ENV_URLS = {
    "storage": "UNISON_STORAGE_URL",
    "context": "UNISON_CONTEXT_URL",
    "context-graph": "UNISON_CONTEXT_GRAPH_URL",
    "intent-graph": "UNISON_INTENT_GRAPH_URL",
}

WHOAMI = route("GET", "/v1/whoami")


class UnisonClient:
    """Async client: `async with UnisonClient() as u: await u.vault.put(...)`.

    URLs and token come from the arguments, else `UNISON_STORAGE_URL`,
    `UNISON_CONTEXT_URL`, `UNISON_CONTEXT_GRAPH_URL`, `UNISON_INTENT_GRAPH_URL` and
    `UNISON_TOKEN`, else the local `make up` ports. Pass `transport` (e.g.
    `httpx.ASGITransport(app)`) or a ready `http_client` to choose how requests travel.
    Calls that are safe to repeat are retried `retries` times on ConnectionError, with
    exponential backoff from `backoff` seconds up to `max_backoff` (longer when the
    service says Retry-After, but never beyond `max_backoff`).

    `headers` are sent on every call: a mapping, or a callable asked before each call.
    A service calling another passes a callable that returns the `X-Request-ID` and
    `traceparent` of the request it is serving, so the callee logs the same request id
    (an explicit `trace_context` block still wins). The token's `Authorization` wins
    over one given here.

    `person_id` makes a service token (scope `persons:act`) act for that person: every
    call carries it as the `person_id` query parameter, so the services scope the call
    to that person, as they would for the person's own token.
    """

    def __init__(self, *, storage_url: str | None = None, context_url: str | None = None,
                 context_graph_url: str | None = None, intent_graph_url: str | None = None,
                 token: str | None = None, timeout: float = 30.0, retries: int = 2,
                 backoff: float = 0.2, max_backoff: float = 10.0,
                 transport: httpx.AsyncBaseTransport | None = None,
                 http_client: httpx.AsyncClient | None = None,
                 headers: HeaderSource | None = None,
                 person_id: str | None = None) -> None:
        given = {"storage": storage_url, "context": context_url,
                 "context-graph": context_graph_url, "intent-graph": intent_graph_url}
        urls = {name: given[name] or os.environ.get(ENV_URLS[name]) or DEFAULT_URLS[name]
                for name in DEFAULT_URLS}
        self._owns_client = http_client is None
        client = http_client or httpx.AsyncClient(transport=transport, timeout=timeout)
        self._http = HTTP(urls, token if token is not None else os.environ.get("UNISON_TOKEN"),
                          client, retries=retries, backoff=backoff, max_backoff=max_backoff,
                          headers=headers)
        self._http.acting_for = person_id
        self.kv = KV(self._http)
        self.memory = Memory(self._http)
        self.vault = Vault(self._http)
        self.audit = Audit(self._http)
        self.objects = Objects(self._http)
        self.files = Files(self._http)
        self.cache = Cache(self._http)
        self.threads = Threads(self._http)
        self.messages = Messages(self._http)
        self.state = ThreadState(self._http)
        self.artifacts = Artifacts(self._http)
        self.metrics = Metrics(self._http)
        self.vectors = Vectors(self._http)
        # The context service (UNISON_CONTEXT_URL).
        self.profiles = Profiles(self._http)
        self.dashboards = Dashboards(self._http)
        self.conversations = Conversations(self._http)

    @property
    def urls(self) -> dict[str, str]:
        return dict(self._http.base_urls)

    async def whoami(self) -> WhoAmI:
        """The identity the token carries (tenant, person, kind, scopes)."""
        r = await self._http.request(WHOAMI)
        return parse(WhoAmI, r.content)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._http.client.aclose()

    async def __aenter__(self) -> UnisonClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()
