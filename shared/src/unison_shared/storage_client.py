"""The graph services' calls to the storage service's KV API, through `unison-client`
(the platform's typed client, as every service-to-service call goes).

The graph services keep content (trace events, context dimensions, capability
manifests) in storage and only its id in the graph. Calls carry the caller's request id
and traceparent, and act as the caller: the caller's token is forwarded when its
audience includes `storage`, otherwise (when a workload secret is configured) a
short-lived workload token for the caller's tenant is minted. The ids come from the
`CallerIdentity`, else from the request being served (`trace_headers`, the client's
header source), so storage's JSON logs carry the caller's request id either way. Every
call here is idempotent (PUT/GET/DELETE of a named record), so connection failures and
5xx answers are retried briefly (the client's retries); storage still failing is a 503
with Retry-After, raised before the caller writes anything to the graph.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from unison_client import UnisonClient, trace_context
from unison_client.errors import ConnectionError as StorageDown
from unison_client.errors import NotFoundError, PreconditionFailed
from unison_client.errors import UnisonError as StorageRefused

from .errors import DependencyUnavailable
from .observability import trace_headers

logger = logging.getLogger("unison.storage_client")
RETRIES = 2
RETRY_AFTER_SECONDS = 2


class VersionMismatch(Exception):
    """A check-and-set write lost to another writer (storage answered 412)."""


class StorageUnavailable(DependencyUnavailable):
    code, title = "storage-unavailable", "The storage service is unavailable"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


@dataclass(frozen=True)
class CallerIdentity:
    """Who the service-to-service call acts for, and the ids that trace it."""

    token: str
    tenant: str
    audiences: tuple[str, ...]
    request_id: str | None = None
    traceparent: str | None = None
    # The person the call is scoped to ("" for a tenant-level call): storage keeps a
    # person's records under that person, so a service token acting for them must say so.
    person_id: str = ""


def storage_id(namespace: str, key: str) -> str:
    """The reference the graph keeps: `kv:<namespace>/<key>`."""
    return f"kv:{namespace}/{key}"


def parse_storage_id(value: str) -> tuple[str, str]:
    """(namespace, key) of a `kv:` storage id."""
    namespace, sep, key = value.removeprefix("kv:").partition("/")
    if not value.startswith("kv:") or not sep or not namespace or not key:
        raise ValueError(f"not a kv storage id: {value!r}")
    return namespace, key


class StorageClient:
    def __init__(self, base_url: str, *, timeout: float = 5.0,
                 workload_secret: str | None = None, service_name: str = "graph",
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        # One connection pool for every caller; a UnisonClient per call carries the
        # caller's token over it.
        self._http = httpx.AsyncClient(
            transport=transport, timeout=httpx.Timeout(timeout, connect=min(timeout, 2.0)),
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=20))
        self._base_url = base_url.rstrip("/")
        self._workload_secret = workload_secret
        self._service = service_name

    async def aclose(self) -> None:
        await self._http.aclose()

    def _token(self, who: CallerIdentity) -> str:
        if "storage" in who.audiences or not self._workload_secret:
            return who.token
        now = int(time.time())
        claims = {"sub": f"service-{self._service}", "type": "service",
                  "roles": ["service"], "aud": "storage", "household_id": who.tenant,
                  # Acts only for the person this service verified the caller as.
                  "scopes": ["persons:act"] if who.person_id else [],
                  "iat": now, "exp": now + 300}
        return jwt.encode(claims, self._workload_secret, algorithm="HS256")

    def _client(self, who: CallerIdentity) -> UnisonClient:
        return UnisonClient(storage_url=self._base_url, token=self._token(who),
                            http_client=self._http, retries=RETRIES, headers=trace_headers,
                            person_id=who.person_id or None)

    @staticmethod
    def _check(namespace: str, key: str) -> None:
        if "/" in key or "/" in namespace:
            # The storage API routes on path segments: a slash cannot be addressed.
            raise ValueError("a storage namespace or key holds no '/'")

    @staticmethod
    def _unavailable(exc: StorageRefused) -> StorageUnavailable:
        if isinstance(exc, StorageDown):
            logger.warning("storage call failed: %s", type(exc).__name__)
            return StorageUnavailable("the storage service did not answer; nothing was "
                                      "written to the graph")
        return StorageUnavailable(f"the storage service refused the call (HTTP {exc.status})")

    async def put(self, who: CallerIdentity, namespace: str, key: str, value: Any, *,
                  if_match: str | None = None, create_only: bool = False) -> str:
        """Write a record; `if_match` (an ETag from `get_versioned`) or `create_only`
        make it a check-and-set that raises VersionMismatch when another write won."""
        self._check(namespace, key)
        with trace_context(who.request_id, who.traceparent):
            try:
                await self._client(who).kv.put(namespace, key, value, if_match=if_match,
                                               create_only=create_only)
            except PreconditionFailed:
                raise VersionMismatch(key) from None
            except StorageRefused as exc:
                raise self._unavailable(exc) from exc
        return storage_id(namespace, key)

    async def get_versioned(self, who: CallerIdentity, namespace: str,
                            key: str) -> tuple[Any, str] | None:
        """The record's value and ETag, or None."""
        self._check(namespace, key)
        with trace_context(who.request_id, who.traceparent):
            try:
                record = await self._client(who).kv.get(namespace, key)
            except NotFoundError:
                return None
            except StorageRefused as exc:
                raise self._unavailable(exc) from exc
        return record.value, record.etag

    async def get(self, who: CallerIdentity, namespace: str, key: str) -> Any | None:
        found = await self.get_versioned(who, namespace, key)
        return None if found is None else found[0]

    async def get_many(self, who: CallerIdentity, namespace: str,
                       keys: list[str]) -> dict[str, Any]:
        """Several records at once (bounded concurrency); absent ones are left out."""
        gate = asyncio.Semaphore(8)

        async def one(key: str) -> tuple[str, Any]:
            async with gate:
                return key, await self.get(who, namespace, key)

        pairs = await asyncio.gather(*(one(k) for k in keys))
        return {k: v for k, v in pairs if v is not None}

    async def delete(self, who: CallerIdentity, namespace: str, key: str) -> None:
        self._check(namespace, key)
        with trace_context(who.request_id, who.traceparent):
            try:
                await self._client(who).kv.delete(namespace, key)
            except NotFoundError:
                return
            except StorageRefused as exc:
                raise self._unavailable(exc) from exc
