"""Context surfaces (profiles, dashboards, conversations) against the real context
service, and their models and routes held against its OpenAPI document."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from tests.client.test_models_openapi import differences
from unison_client import PermissionDenied, PreconditionFailed, UnisonClient, ValidationError
from unison_client._http import ROUTES
from unison_client.models import context as context_models


@pytest.fixture
async def cx(context_app, alice):
    async with UnisonClient(context_url="http://context", token=alice.token,
                            transport=httpx.ASGITransport(app=context_app)) as c:
        yield c


async def test_profiles(cx: UnisonClient, alice) -> None:
    me = alice.person_id
    first = await cx.profiles.put(me, {"name": "Alice", "pin": "1234", "lang": "en"})
    assert first.version == 1 and first.profile["pin"] == "***"
    patched = await cx.profiles.patch(me, {"lang": "fr", "name": None}, if_match=first.etag)
    assert patched.version == 2 and "name" not in patched.profile
    with pytest.raises(PreconditionFailed):
        await cx.profiles.put(me, {"x": 1}, if_match=1)
    assert (await cx.profiles.get(me)).profile["lang"] == "fr"
    assert await cx.profiles.verify_credential(me, "1234") is True
    assert await cx.profiles.verify_credential(me, "0000") is False
    history = await cx.profiles.history(me)
    assert [v.version for v in history.items] == [2, 1]
    with pytest.raises(ValidationError) as card:
        await cx.profiles.patch(me, {"payments": {"card_number": "4111111111111111"}})
    assert card.value.status == 422
    with pytest.raises(PermissionDenied):
        await cx.profiles.get("someone-else")


async def test_dashboards(cx: UnisonClient, alice) -> None:
    me = alice.person_id
    d = await cx.dashboards.put(me, {"cards": [{"id": "weather"}], "preferences": {}})
    assert d.version == 1 and d.dashboard["cards"] == [{"id": "weather"}]
    d2 = await cx.dashboards.patch(me, {"preferences": {"theme": "dark"}}, if_match=d.version)
    assert d2.dashboard["preferences"] == {"theme": "dark"}
    assert (await cx.dashboards.get(me)).version == 2


async def test_conversations(cx: UnisonClient, alice) -> None:
    me = alice.person_id
    appended = await cx.conversations.append(me, "s1", [
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": {"text": "hello"}}])
    assert [m.seq for m in appended] == [1, 2]
    state = await cx.conversations.set_state(me, "s1", summary="greeting")
    assert (state.summary, state.message_count) == ("greeting", 2)
    kept = await cx.conversations.set_state(me, "s1", response={"ok": True})
    assert kept.summary == "greeting" and kept.response == {"ok": True}
    page = await cx.conversations.messages(me, "s1", order="desc", limit=1)
    assert page.items[0].content == {"text": "hello"} and page.next_cursor
    assert [s.session_id for s in (await cx.conversations.sessions(me)).items] == ["s1"]
    assert (await cx.conversations.get(me, "s1")).message_count == 2
    await cx.conversations.append(me, "s2", [{"role": "user", "content": "x"}])
    await cx.conversations.delete(me, "s2")
    assert await cx.conversations.delete_all(me) == 1


async def test_context_models_and_routes_match_openapi(context_app) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=context_app),
                                 base_url="http://context") as c:
        doc: dict[str, Any] = (await c.get("/openapi.json")).json()
    components = doc["components"]["schemas"]
    problems: list[str] = []
    for name in context_models.__all__:
        cls: type[BaseModel] = getattr(context_models, name)
        server = getattr(cls, "openapi_name", name)
        found = [k for k in components
                 if k.removesuffix("-Output").removesuffix("-Input").split("__")[-1] == server
                 and "compat" not in k]
        if not found:
            problems.append(f"{name}: no component {server}")
            continue
        diffs = [differences(cls, components[k], components) for k in found]
        if all(diffs):
            problems += [d for ds in diffs for d in ds]
    assert problems == []
    routes = [r for r in ROUTES if r.service == "context"]
    missing = [f"{r.method} {r.template}" for r in routes
               if r.method.lower() not in doc["paths"].get(r.template, {})]
    assert missing == [] and len(routes) == 15
