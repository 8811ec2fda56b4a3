"""What the Cortex-Prime routes share: FastAPI's own 422 shape for invalid requests
(`{"detail": [...]}`; the platform's legacy handler answers 400), the record shapes of
the Cortex-Prime storage service, and the deleted reply."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, PlainSerializer

from unison_shared.compiled_routes import CompiledRoute

from ..artifacts.schemas import Artifact as V1Artifact
from ..messages.schemas import Message as V1Message
from ..threads.schemas import Thread


class CortexRoute(CompiledRoute):
    """A planned route whose invalid requests answer as FastAPI does by default: 422
    with the validation errors as `detail` (what a Cortex-Prime client was written
    against), whichever handler (planned or FastAPI's) serves the request."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                return validation_response(exc)

        return route


def validation_response(exc: RequestValidationError) -> Response:
    content = {"detail": jsonable_encoder(exc.errors())}
    try:
        return JSONResponse(content, status_code=422)
    except UnicodeEncodeError:
        # The echoed input holds a lone surrogate (no UTF-8 form): \u-escaped instead.
        return Response(json.dumps(content, ensure_ascii=True), status_code=422,
                        media_type="application/json")


def cortex_router() -> APIRouter:
    return APIRouter(prefix="/storage", tags=["cortex-prime"], route_class=CortexRoute)


# Replies carry times as `datetime.isoformat()` writes them (`+00:00`, never `Z`), which
# every Python's `datetime.fromisoformat` reads (before 3.11 it refuses `Z`).
IsoTime = Annotated[datetime, PlainSerializer(lambda at: at.isoformat(), return_type=str)]


def as_utc(at: datetime | None) -> datetime | None:
    """Cortex-Prime clients send naive ISO times meaning UTC."""
    if at is None or at.tzinfo is not None:
        return at
    return at.replace(tzinfo=UTC)


SessionStatus = Literal["active", "paused", "ended"]


class Session(BaseModel):
    id: str
    agent_name: str
    user_id: str
    created_at: IsoTime
    updated_at: IsoTime
    status: SessionStatus
    metadata: dict[str, Any]
    title: str | None = None
    message_count: int = 0


def session(thread: Thread) -> Session:
    return Session(id=thread.id, agent_name=thread.agent_name, user_id=thread.person_id,
                   created_at=thread.created_at, updated_at=thread.updated_at,
                   status=thread.status, metadata=thread.metadata, title=thread.title,
                   message_count=thread.message_count)


class Message(BaseModel):
    id: str
    session_id: str
    role: Literal["user", "assistant", "system", "tool"]
    content: str
    timestamp: IsoTime
    metadata: dict[str, Any]
    seq: int
    parent_message_id: str | None = None


def message(m: V1Message) -> Message:
    return Message(id=m.id, session_id=m.thread_id, role=m.role, content=m.content,
                   timestamp=m.created_at, metadata=m.metadata, seq=m.seq,
                   parent_message_id=m.parent_message_id)


class Artifact(BaseModel):
    id: str
    session_id: str
    name: str
    type: str
    path: str
    size: int
    created_at: IsoTime
    metadata: dict[str, Any]
    content_type: str
    sha256: str | None
    object_id: str | None


def artifact(a: V1Artifact) -> Artifact:
    return Artifact(id=a.id, session_id=a.thread_id, name=a.name, type=a.type, path=a.path,
                    size=a.size_bytes, created_at=a.created_at, metadata=a.metadata,
                    content_type=a.content_type, sha256=a.sha256, object_id=a.object_id)


class SessionDeleted(BaseModel):
    status: Literal["deleted"] = "deleted"
    session_id: str


class Page(BaseModel):
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)
