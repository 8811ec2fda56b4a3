"""Models of the context service (`/v1` profiles, dashboards, conversations). Each names
the OpenAPI component it mirrors (`openapi_name`) where the names differ; they are
checked against the context service's document like the storage models."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from .records import Model


class Profile(Model):
    openapi_name: ClassVar[str] = "ProfileOut"
    person_id: str
    profile: dict[str, Any]
    version: int
    etag: str
    redacted: bool = False
    created_at: datetime
    updated_at: datetime


class ProfileVersion(Model):
    version: int
    profile: dict[str, Any]
    created_at: datetime


class ProfileHistory(Model):
    items: list[ProfileVersion]
    next_cursor: str | None


class VerifyIn(Model):
    kind: Literal["pin", "passcode"] = "pin"
    secret: str


class VerifyOut(Model):
    valid: bool


class Dashboard(Model):
    openapi_name: ClassVar[str] = "DashboardOut"
    person_id: str
    dashboard: dict[str, Any]
    version: int
    etag: str
    updated_at: datetime


class ConversationMessageIn(Model):
    openapi_name: ClassVar[str] = "MessageIn"
    role: str
    content: Any
    metadata: dict[str, Any] = {}


class AppendIn(Model):
    messages: list[ConversationMessageIn]


class StateIn(Model):
    response: dict[str, Any] | None = None
    summary: str | None = None


class ConversationMessage(Model):
    openapi_name: ClassVar[str] = "Message"
    seq: int
    role: str | None
    content: Any
    metadata: dict[str, Any]
    created_at: datetime


class ConversationMessagePage(Model):
    openapi_name: ClassVar[str] = "MessagePage"
    items: list[ConversationMessage]
    next_cursor: str | None


class ConversationSession(Model):
    openapi_name: ClassVar[str] = "Session"
    session_id: str
    response: dict[str, Any] | None
    summary: str | None
    message_count: int
    created_at: datetime
    updated_at: datetime


class ConversationSessionPage(Model):
    openapi_name: ClassVar[str] = "SessionPage"
    items: list[ConversationSession]
    next_cursor: str | None


__all__ = ["AppendIn", "ConversationMessage", "ConversationMessageIn",
           "ConversationMessagePage", "ConversationSession", "ConversationSessionPage",
           "Dashboard", "Profile", "ProfileHistory", "ProfileVersion", "StateIn", "VerifyIn",
           "VerifyOut"]
