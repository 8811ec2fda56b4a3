"""KV, working memory and the vault."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any, Literal

from .._http import route
from ..models import (
    Deleted,
    DestroyBody,
    DestroyResult,
    KVPage,
    KVPutBody,
    KVRecord,
    MemoryEntry,
    MemoryPage,
    MemoryPut,
    MemoryWrite,
    SecretDetail,
    SecretMetadata,
    SecretPage,
    SecretPutBody,
    SecretValue,
)
from ._base import Surface, body, etag, parse

KV_ITEM_GET = route("GET", "/v1/kv/{namespace}/{key}")
KV_ITEM_PUT = route("PUT", "/v1/kv/{namespace}/{key}")
KV_ITEM_DELETE = route("DELETE", "/v1/kv/{namespace}/{key}")
KV_LIST = route("GET", "/v1/kv/{namespace}")


class KV(Surface):
    """Key/value records: `/v1/kv/{namespace}/{key}`, versioned, with check-and-set."""

    async def get(self, namespace: str, key: str) -> KVRecord:
        r = await self._http.request(KV_ITEM_GET, {"namespace": namespace, "key": key})
        return parse(KVRecord, r.content)

    async def put(
        self,
        namespace: str,
        key: str,
        value: Any,
        *,
        ttl_seconds: int | None = None,
        if_match: int | str | None = None,
        create_only: bool = False,
    ) -> KVRecord:
        """Write `value` (any JSON). `if_match`: the version the record must still be at
        (PreconditionFailed otherwise); `create_only`: fail if it exists."""
        headers: dict[str, str] = {}
        if if_match is not None:
            headers["If-Match"] = etag(if_match)
        if create_only:
            headers["If-None-Match"] = "*"
        r = await self._http.request(
            KV_ITEM_PUT,
            {"namespace": namespace, "key": key},
            headers=headers,
            json=body(KVPutBody.model_construct(value=value, ttl_seconds=ttl_seconds), unset=True),
            # A plain overwrite ends in the same state however often it lands.
            idempotent=not headers,
        )
        return parse(KVRecord, r.content)

    async def delete(self, namespace: str, key: str, *, if_match: int | str | None = None) -> None:
        headers = {"If-Match": etag(if_match)} if if_match is not None else None
        await self._http.request(
            KV_ITEM_DELETE, {"namespace": namespace, "key": key}, headers=headers
        )

    async def list(
        self, namespace: str, *, prefix: str = "", cursor: str | None = None, limit: int = 100
    ) -> KVPage:
        r = await self._http.request(
            KV_LIST,
            {"namespace": namespace},
            query={"prefix": prefix, "cursor": cursor, "limit": limit},
        )
        return parse(KVPage, r.content)


_MEM = "/v1/memory/sessions/{session_id}"
MEM_WRITE = route("POST", _MEM + "/entries")
MEM_LIST = route("GET", _MEM + "/entries")
MEM_LATEST = route("GET", _MEM + "/entries/latest")
MEM_GET = route("GET", _MEM + "/entries/{entry_id}")
MEM_DELETE = route("DELETE", _MEM + "/entries/{entry_id}")
MEM_KEY_PUT = route("PUT", _MEM + "/keys/{key}")
MEM_KEY_GET = route("GET", _MEM + "/keys/{key}")
MEM_KEY_DELETE = route("DELETE", _MEM + "/keys/{key}")
MEM_SESSION_DELETE = route("DELETE", _MEM)


class Memory(Surface):
    """Working memory with TTL: entries of a session, by id or by key."""

    async def append(
        self,
        session_id: str,
        payload: Any,
        *,
        key: str | None = None,
        keyspace: str = "default",
        ttl_seconds: int | None = None,
    ) -> MemoryEntry:
        """A new entry; with `key`, it replaces that key's entry (and is safe to retry)."""
        model = MemoryWrite.model_construct(
            payload=payload, key=key, keyspace=keyspace, ttl_seconds=ttl_seconds
        )
        r = await self._http.request(
            MEM_WRITE,
            {"session_id": session_id},
            json=body(model, unset=True),
            idempotent=key is not None,
        )
        return parse(MemoryEntry, r.content)

    async def put(
        self,
        session_id: str,
        key: str,
        payload: Any,
        *,
        keyspace: str = "default",
        ttl_seconds: int | None = None,
    ) -> MemoryEntry:
        model = MemoryPut.model_construct(
            payload=payload, keyspace=keyspace, ttl_seconds=ttl_seconds
        )
        r = await self._http.request(
            MEM_KEY_PUT,
            {"session_id": session_id, "key": key},
            json=body(model, unset=True),
            idempotent=True,
        )
        return parse(MemoryEntry, r.content)

    async def get(self, session_id: str, entry_id: int) -> MemoryEntry:
        r = await self._http.request(MEM_GET, {"session_id": session_id, "entry_id": entry_id})
        return parse(MemoryEntry, r.content)

    async def get_key(self, session_id: str, key: str) -> MemoryEntry:
        r = await self._http.request(MEM_KEY_GET, {"session_id": session_id, "key": key})
        return parse(MemoryEntry, r.content)

    async def latest(self, session_id: str) -> MemoryEntry:
        r = await self._http.request(MEM_LATEST, {"session_id": session_id})
        return parse(MemoryEntry, r.content)

    async def list(
        self, session_id: str, *, cursor: str | None = None, limit: int = 100
    ) -> MemoryPage:
        """Newest first."""
        r = await self._http.request(
            MEM_LIST, {"session_id": session_id}, query={"cursor": cursor, "limit": limit}
        )
        return parse(MemoryPage, r.content)

    async def delete(self, session_id: str, entry_id: int) -> None:
        await self._http.request(MEM_DELETE, {"session_id": session_id, "entry_id": entry_id})

    async def delete_key(self, session_id: str, key: str) -> None:
        await self._http.request(MEM_KEY_DELETE, {"session_id": session_id, "key": key})

    async def clear(self, session_id: str) -> int:
        """Delete the whole session; the number of live entries it held."""
        r = await self._http.request(MEM_SESSION_DELETE, {"session_id": session_id})
        return parse(Deleted, r.content).deleted


_VAULT_ITEM = "/v1/vault/secrets/{name}"
_NAME = ("name",)
VAULT_LIST = route("GET", "/v1/vault/secrets")
VAULT_PUT = route("PUT", _VAULT_ITEM, slash_params=_NAME)
VAULT_GET = route("GET", _VAULT_ITEM, slash_params=_NAME)
VAULT_DELETE = route("DELETE", _VAULT_ITEM, slash_params=_NAME)
VAULT_METADATA = route("GET", _VAULT_ITEM + "/metadata", slash_params=_NAME)
VAULT_UNDELETE = route("POST", _VAULT_ITEM + "/undelete", slash_params=_NAME)
VAULT_DESTROY = route("POST", _VAULT_ITEM + "/destroy", slash_params=_NAME)


class Vault(Surface):
    """Encrypted secrets with versions, soft delete and crypto-erase."""

    async def put(
        self,
        name: str,
        value: str,
        *,
        metadata: dict[str, Any] | None = None,
        cas: int | None = None,
        max_versions: int | None = None,
    ) -> SecretMetadata:
        """A new version (never retried: each write is a version). `cas`: the version
        expected current, 0 = must not exist (PreconditionFailed otherwise)."""
        model = SecretPutBody.model_construct(
            value=value, metadata=metadata, cas=cas, max_versions=max_versions
        )
        r = await self._http.request(VAULT_PUT, {"name": name}, json=body(model), idempotent=False)
        return parse(SecretMetadata, r.content)

    async def get(self, name: str, *, version: int | None = None) -> SecretValue:
        """The value (GoneError when deleted or destroyed)."""
        r = await self._http.request(VAULT_GET, {"name": name}, query={"version": version})
        return parse(SecretValue, r.content)

    async def value(self, name: str, *, version: int | None = None) -> str:
        return (await self.get(name, version=version)).value

    async def metadata(self, name: str) -> SecretDetail:
        r = await self._http.request(VAULT_METADATA, {"name": name})
        return parse(SecretDetail, r.content)

    async def list(
        self,
        *,
        prefix: str = "",
        include_deleted: bool = False,
        cursor: str | None = None,
        limit: int = 100,
    ) -> SecretPage:
        r = await self._http.request(
            VAULT_LIST,
            query={
                "prefix": prefix,
                "include_deleted": include_deleted,
                "cursor": cursor,
                "limit": limit,
            },
        )
        return parse(SecretPage, r.content)

    async def delete(self, name: str) -> None:
        await self._http.request(VAULT_DELETE, {"name": name})

    async def undelete(self, name: str) -> SecretMetadata:
        r = await self._http.request(VAULT_UNDELETE, {"name": name}, idempotent=True)
        return parse(SecretMetadata, r.content)

    async def destroy(self, name: str, versions: Sequence[int] | Literal["all"]) -> DestroyResult:
        """Crypto-erase the versions named (or "all"): never readable again."""
        chosen: builtins.list[int] | Literal["all"] = (
            "all" if versions == "all" else [int(v) for v in versions]
        )
        r = await self._http.request(
            VAULT_DESTROY,
            {"name": name},
            json=body(DestroyBody.model_construct(versions=chosen)),
            idempotent=True,
        )
        return parse(DestroyResult, r.content)
