"""A typed async client for the storage service's KV API, for service-to-service calls.

The graph services keep content (trace events, context dimensions, capability
manifests) in storage and only its id in the graph. Calls carry the caller's request id
and traceparent, and act as the caller: the caller's token is forwarded when its
audience includes `storage`, otherwise (when a workload secret is configured) a
short-lived workload token for the caller's tenant is minted. Every call here is
idempotent (PUT/GET/DELETE of a named record), so connection failures and 5xx answers
are retried briefly; storage still failing is a 503 with Retry-After, raised before the
caller writes anything to the graph.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import jwt

from .errors import DependencyUnavailable

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
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 2.0)),
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=20))
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
                  "iat": now, "exp": now + 300}
        return jwt.encode(claims, self._workload_secret, algorithm="HS256")

    def _headers(self, who: CallerIdentity) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self._token(who)}"}
        if who.request_id:
            headers["X-Request-Id"] = who.request_id
        if who.traceparent:
            headers["traceparent"] = who.traceparent
        return headers

    async def _call(self, who: CallerIdentity, method: str, path: str,
                    json: Any = None, headers: dict[str, str] | None = None
                    ) -> httpx.Response:
        last = "no answer"
        for attempt in range(RETRIES + 1):
            try:
                resp = await self._http.request(method, path, json=json,
                                                headers={**self._headers(who),
                                                         **(headers or {})})
            except httpx.TransportError as exc:
                last = type(exc).__name__
            else:
                if resp.status_code < 500:
                    return resp
                last = f"HTTP {resp.status_code}"
            if attempt < RETRIES:
                await asyncio.sleep(0.05 * (attempt + 1))
        logger.warning("storage %s %s failed: %s", method, path.split("/")[3:4], last)
        raise StorageUnavailable(f"the storage service did not answer ({last}); "
                                 "nothing was written to the graph")

    @staticmethod
    def _path(namespace: str, key: str) -> str:
        if "/" in key or "/" in namespace:
            # The storage API routes on path segments: a slash cannot be addressed.
            raise ValueError("a storage namespace or key holds no '/'")
        return f"/v1/kv/{quote(namespace, safe='')}/{quote(key, safe='')}"

    @staticmethod
    def _refused(resp: httpx.Response) -> StorageUnavailable:
        return StorageUnavailable(f"the storage service refused the call "
                                  f"(HTTP {resp.status_code})")

    async def put(self, who: CallerIdentity, namespace: str, key: str, value: Any, *,
                  if_match: str | None = None, create_only: bool = False) -> str:
        """Write a record; `if_match` (an ETag from `get_versioned`) or `create_only`
        make it a check-and-set that raises VersionMismatch when another write won."""
        headers = {"If-Match": if_match} if if_match else {}
        if create_only:
            headers["If-None-Match"] = "*"
        resp = await self._call(who, "PUT", self._path(namespace, key), {"value": value},
                                headers)
        if resp.status_code == 412:
            raise VersionMismatch(key)
        if resp.status_code not in (200, 201):
            raise self._refused(resp)
        return storage_id(namespace, key)

    async def get_versioned(self, who: CallerIdentity, namespace: str,
                            key: str) -> tuple[Any, str] | None:
        """The record's value and ETag, or None."""
        resp = await self._call(who, "GET", self._path(namespace, key))
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise self._refused(resp)
        return resp.json().get("value"), resp.headers.get("etag", "")

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
        resp = await self._call(who, "DELETE", self._path(namespace, key))
        if resp.status_code not in (204, 404):
            raise self._refused(resp)
