"""The context service: profiles, dashboards and conversations of a person. `person_id`
must be the token's person (403 otherwise, unless a workload acts for a person)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from .._http import route
from ..models.context import (
    AppendIn,
    ConversationMessage,
    ConversationMessageIn,
    ConversationMessagePage,
    ConversationSession,
    ConversationSessionPage,
    Dashboard,
    Profile,
    ProfileHistory,
    StateIn,
    VerifyIn,
    VerifyOut,
)
from ..models.records import Deleted
from ._base import Surface, body, etag, parse

_P = "/v1/profiles/{person_id}"
PROFILE_GET = route("GET", _P, service="context")
PROFILE_PUT = route("PUT", _P, service="context")
PROFILE_PATCH = route("PATCH", _P, service="context")
PROFILE_HISTORY = route("GET", _P + "/history", service="context")
PROFILE_VERIFY = route("POST", _P + "/credentials/verify", service="context")
_D = "/v1/dashboards/{person_id}"
DASH_GET = route("GET", _D, service="context")
DASH_PUT = route("PUT", _D, service="context")
DASH_PATCH = route("PATCH", _D, service="context")
_S = "/v1/conversations/{person_id}/sessions"
CONV_LIST = route("GET", _S, service="context")
CONV_DELETE_ALL = route("DELETE", _S, service="context")
CONV_GET = route("GET", _S + "/{session_id}", service="context")
CONV_PATCH = route("PATCH", _S + "/{session_id}", service="context")
CONV_DELETE = route("DELETE", _S + "/{session_id}", service="context")
CONV_APPEND = route("POST", _S + "/{session_id}/messages", service="context")
CONV_MESSAGES = route("GET", _S + "/{session_id}/messages", service="context")

_UNSET: Any = object()


def _if_match(version: int | str | None) -> dict[str, str] | None:
    return {"If-Match": etag(version)} if version is not None else None


class Profiles(Surface):
    async def get(self, person_id: str, *, redacted: bool = False) -> Profile:
        r = await self._http.request(PROFILE_GET, {"person_id": person_id},
                                     query={"view": "redacted" if redacted else "full"})
        return parse(Profile, r.content)

    async def put(self, person_id: str, profile: dict[str, Any], *,
                  if_match: int | str | None = None) -> Profile:
        """Replace the whole profile (`if_match`: the version expected, or "*")."""
        r = await self._http.request(PROFILE_PUT, {"person_id": person_id}, json=profile,
                                     headers=_if_match(if_match), idempotent=if_match is None)
        return parse(Profile, r.content)

    async def patch(self, person_id: str, patch: dict[str, Any], *,
                    if_match: int | str | None = None) -> Profile:
        """Merge an RFC 7396 patch into the profile (null removes a key)."""
        r = await self._http.request(PROFILE_PATCH, {"person_id": person_id}, json=patch,
                                     headers=_if_match(if_match), idempotent=False)
        return parse(Profile, r.content)

    async def history(self, person_id: str, *, cursor: str | None = None,
                      limit: int = 20) -> ProfileHistory:
        r = await self._http.request(PROFILE_HISTORY, {"person_id": person_id},
                                     query={"cursor": cursor, "limit": limit})
        return parse(ProfileHistory, r.content)

    async def verify_credential(self, person_id: str, secret: str, *,
                                kind: Literal["pin", "passcode"] = "pin") -> bool:
        model = VerifyIn.model_construct(kind=kind, secret=secret)
        r = await self._http.request(PROFILE_VERIFY, {"person_id": person_id},
                                     json=body(model), idempotent=True)
        return parse(VerifyOut, r.content).valid


class Dashboards(Surface):
    async def get(self, person_id: str) -> Dashboard:
        r = await self._http.request(DASH_GET, {"person_id": person_id})
        return parse(Dashboard, r.content)

    async def put(self, person_id: str, dashboard: dict[str, Any], *,
                  if_match: int | str | None = None) -> Dashboard:
        r = await self._http.request(DASH_PUT, {"person_id": person_id}, json=dashboard,
                                     headers=_if_match(if_match), idempotent=if_match is None)
        return parse(Dashboard, r.content)

    async def patch(self, person_id: str, patch: dict[str, Any], *,
                    if_match: int | str | None = None) -> Dashboard:
        r = await self._http.request(DASH_PATCH, {"person_id": person_id}, json=patch,
                                     headers=_if_match(if_match), idempotent=False)
        return parse(Dashboard, r.content)


MessageLike = ConversationMessageIn | Mapping[str, Any]


class Conversations(Surface):
    async def sessions(self, person_id: str, *, cursor: str | None = None,
                       limit: int = 50) -> ConversationSessionPage:
        """The person's sessions, most recently updated first."""
        r = await self._http.request(CONV_LIST, {"person_id": person_id},
                                     query={"cursor": cursor, "limit": limit})
        return parse(ConversationSessionPage, r.content)

    async def get(self, person_id: str, session_id: str) -> ConversationSession:
        r = await self._http.request(CONV_GET, {"person_id": person_id,
                                                "session_id": session_id})
        return parse(ConversationSession, r.content)

    async def set_state(self, person_id: str, session_id: str, *,
                        response: dict[str, Any] | None = _UNSET,
                        summary: str | None = _UNSET) -> ConversationSession:
        """Set the latest response and/or the summary (one left out is unchanged, None
        clears it); creates the session."""
        fields: dict[str, Any] = {k: v for k, v in (("response", response),
                                                    ("summary", summary)) if v is not _UNSET}
        r = await self._http.request(CONV_PATCH, {"person_id": person_id,
                                                  "session_id": session_id},
                                     json=body(StateIn.model_construct(**fields), unset=True),
                                     idempotent=True)
        return parse(ConversationSession, r.content)

    async def append(self, person_id: str, session_id: str,
                     messages: Sequence[MessageLike]) -> list[ConversationMessage]:
        """Append 1 to 500 messages `{role, content, metadata?}` (numbered in order)."""
        items = [m if isinstance(m, ConversationMessageIn)
                 else ConversationMessageIn.model_construct(**m) for m in messages]
        r = await self._http.request(CONV_APPEND, {"person_id": person_id,
                                                   "session_id": session_id},
                                     json=body(AppendIn.model_construct(messages=items)))
        return [ConversationMessage.model_validate(m) for m in r.json()]

    async def messages(self, person_id: str, session_id: str, *,
                       order: Literal["asc", "desc"] = "asc", cursor: str | None = None,
                       limit: int = 100) -> ConversationMessagePage:
        r = await self._http.request(CONV_MESSAGES, {"person_id": person_id,
                                                     "session_id": session_id},
                                     query={"order": order, "cursor": cursor, "limit": limit})
        return parse(ConversationMessagePage, r.content)

    async def delete(self, person_id: str, session_id: str) -> None:
        await self._http.request(CONV_DELETE, {"person_id": person_id,
                                               "session_id": session_id})

    async def delete_all(self, person_id: str) -> int:
        r = await self._http.request(CONV_DELETE_ALL, {"person_id": person_id})
        return parse(Deleted, r.content).deleted
