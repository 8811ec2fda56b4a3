"""Agent-runtime records: threads, their messages, state and artifacts, and metrics."""

from __future__ import annotations

import base64
from typing import Any, Literal

from .._http import route
from ..models import (
    Artifact,
    ArtifactDeleted,
    ArtifactIn,
    ArtifactPage,
    Message,
    MessageIn,
    MessagePage,
    MessagesDeleted,
    Role,
    State,
    StateDeleted,
    StatePut,
    StateRestore,
    StateVersions,
    Status,
    Thread,
    ThreadCreate,
    ThreadDeleted,
    ThreadPage,
    ThreadPatch,
)
from ._base import Surface, body, etag, parse

_T = "/v1/threads/{thread_id}"
THREAD_CREATE = route("POST", "/v1/threads")
THREAD_LIST = route("GET", "/v1/threads")
THREAD_GET = route("GET", _T)
THREAD_PATCH = route("PATCH", _T)
THREAD_DELETE = route("DELETE", _T)
MSG_APPEND = route("POST", _T + "/messages")
MSG_LIST = route("GET", _T + "/messages")
MSG_DELETE = route("DELETE", _T + "/messages")
STATE_GET = route("GET", _T + "/state")
STATE_PUT = route("PUT", _T + "/state")
STATE_DELETE = route("DELETE", _T + "/state")
STATE_VERSIONS = route("GET", _T + "/state/versions")
STATE_VERSION = route("GET", _T + "/state/versions/{version}")
STATE_RESTORE = route("POST", _T + "/state/restore")
ART_CREATE = route("POST", _T + "/artifacts")
ART_LIST = route("GET", _T + "/artifacts")
ART_GET = route("GET", _T + "/artifacts/{artifact_id}")
ART_CONTENT = route("GET", _T + "/artifacts/{artifact_id}/content")
ART_DELETE = route("DELETE", _T + "/artifacts/{artifact_id}")


class Threads(Surface):
    async def create(
        self,
        agent_name: str,
        *,
        title: str | None = None,
        status: Status = "active",
        metadata: dict[str, Any] | None = None,
    ) -> Thread:
        model = ThreadCreate.model_construct(
            agent_name=agent_name, title=title, status=status, metadata=metadata or {}
        )
        r = await self._http.request(THREAD_CREATE, json=body(model))
        return parse(Thread, r.content)

    async def get(self, thread_id: str) -> Thread:
        r = await self._http.request(THREAD_GET, {"thread_id": thread_id})
        return parse(Thread, r.content)

    async def list(
        self,
        *,
        agent_name: str | None = None,
        status: Status | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> ThreadPage:
        r = await self._http.request(
            THREAD_LIST,
            query={"agent_name": agent_name, "status": status, "cursor": cursor, "limit": limit},
        )
        return parse(ThreadPage, r.content)

    async def update(self, thread_id: str, **fields: Any) -> Thread:
        """Change the fields given (agent_name, title, status, metadata); `title=None`
        clears the title."""
        r = await self._http.request(
            THREAD_PATCH,
            {"thread_id": thread_id},
            json=body(ThreadPatch.model_construct(**fields), unset=True),
            idempotent=True,
        )
        return parse(Thread, r.content)

    async def delete(self, thread_id: str) -> ThreadDeleted:
        """The thread with its messages, state and artifacts."""
        r = await self._http.request(THREAD_DELETE, {"thread_id": thread_id})
        return parse(ThreadDeleted, r.content)


class Messages(Surface):
    async def append(
        self,
        thread_id: str,
        role: Role,
        content: str,
        *,
        metadata: dict[str, Any] | None = None,
        parent_message_id: str | None = None,
    ) -> Message:
        model = MessageIn.model_construct(
            role=role, content=content, metadata=metadata or {}, parent_message_id=parent_message_id
        )
        r = await self._http.request(MSG_APPEND, {"thread_id": thread_id}, json=body(model))
        return parse(Message, r.content)

    async def list(
        self,
        thread_id: str,
        *,
        order: Literal["oldest", "newest"] = "oldest",
        role: Role | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> MessagePage:
        r = await self._http.request(
            MSG_LIST,
            {"thread_id": thread_id},
            query={"order": order, "role": role, "cursor": cursor, "limit": limit},
        )
        return parse(MessagePage, r.content)

    async def clear(self, thread_id: str) -> int:
        r = await self._http.request(MSG_DELETE, {"thread_id": thread_id})
        return parse(MessagesDeleted, r.content).deleted


class ThreadState(Surface):
    """Versioned, encrypted agent state of a thread, with check-and-set writes."""

    async def get(self, thread_id: str, *, version: int | None = None) -> State:
        if version is None:
            r = await self._http.request(STATE_GET, {"thread_id": thread_id})
        else:
            r = await self._http.request(
                STATE_VERSION, {"thread_id": thread_id, "version": version}
            )
        return parse(State, r.content)

    async def put(
        self, thread_id: str, data: dict[str, Any], *, if_match: int | None = None
    ) -> State:
        """A new version. `if_match`: the version expected current (0: none written
        yet); PreconditionFailed when another write got there first."""
        headers = {"If-Match": etag(if_match)} if if_match is not None else None
        r = await self._http.request(
            STATE_PUT,
            {"thread_id": thread_id},
            json=body(StatePut.model_construct(data=data)),
            headers=headers,
            idempotent=False,
        )
        return parse(State, r.content)

    async def versions(self, thread_id: str) -> StateVersions:
        r = await self._http.request(STATE_VERSIONS, {"thread_id": thread_id})
        return parse(StateVersions, r.content)

    async def restore(self, thread_id: str, version: int, *, if_match: int | None = None) -> State:
        headers = {"If-Match": etag(if_match)} if if_match is not None else None
        r = await self._http.request(
            STATE_RESTORE,
            {"thread_id": thread_id},
            json=body(StateRestore.model_construct(version=version)),
            headers=headers,
        )
        return parse(State, r.content)

    async def delete(self, thread_id: str) -> int:
        r = await self._http.request(STATE_DELETE, {"thread_id": thread_id})
        return parse(StateDeleted, r.content).deleted


class Artifacts(Surface):
    async def create(
        self,
        thread_id: str,
        name: str,
        type: str,
        *,
        content: bytes | None = None,
        object_id: str | None = None,
        content_type: str = "application/octet-stream",
        path: str = "",
        size: int | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Artifact:
        """`content` inline (base64 on the wire), or `object_id` of an uploaded object,
        or neither (a metadata-only record)."""
        b64 = base64.b64encode(content).decode() if content is not None else None
        model = ArtifactIn.model_construct(
            name=name,
            type=type,
            content_type=content_type,
            path=path,
            size=size,
            metadata=metadata or {},
            content_b64=b64,
            object_id=object_id,
        )
        r = await self._http.request(ART_CREATE, {"thread_id": thread_id}, json=body(model))
        return parse(Artifact, r.content)

    async def get(self, thread_id: str, artifact_id: str) -> Artifact:
        r = await self._http.request(ART_GET, {"thread_id": thread_id, "artifact_id": artifact_id})
        return parse(Artifact, r.content)

    async def content(self, thread_id: str, artifact_id: str) -> bytes:
        r = await self._http.request(
            ART_CONTENT, {"thread_id": thread_id, "artifact_id": artifact_id}
        )
        return r.content

    async def list(
        self,
        thread_id: str,
        *,
        type: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> ArtifactPage:
        r = await self._http.request(
            ART_LIST,
            {"thread_id": thread_id},
            query={"type": type, "cursor": cursor, "limit": limit},
        )
        return parse(ArtifactPage, r.content)

    async def delete(self, thread_id: str, artifact_id: str) -> ArtifactDeleted:
        r = await self._http.request(
            ART_DELETE, {"thread_id": thread_id, "artifact_id": artifact_id}
        )
        return parse(ArtifactDeleted, r.content)
