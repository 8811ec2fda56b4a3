"""Request id and traceparent: sent on every call, taken from the caller's context."""

from __future__ import annotations

import httpx
import pytest

from unison_client import NotFoundError, UnisonClient, trace_context
from unison_client.tracing import TRACEPARENT


@pytest.fixture
async def traced(storage_app, alice):
    replies: list[httpx.Response] = []

    async def keep(response: httpx.Response) -> None:
        replies.append(response)

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=storage_app),
                                 event_hooks={"response": [keep]}) as http, UnisonClient(
            storage_url="http://storage", token=alice.token, http_client=http) as c:
        yield c, replies


async def test_context_ids_are_propagated(traced) -> None:
    c, replies = traced
    tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with trace_context(request_id="req-from-caller", traceparent=tp):
        await c.kv.put("ns", "k", 1)
        with pytest.raises(NotFoundError) as err:
            await c.kv.get("ns", "absent")
    assert err.value.request_id == "req-from-caller"
    for reply in replies:
        assert reply.request.headers["x-request-id"] == "req-from-caller"
        assert reply.headers["x-request-id"] == "req-from-caller"
        assert reply.headers["traceparent"] == tp


async def test_ids_are_generated_when_absent(traced) -> None:
    c, replies = traced
    await c.whoami()
    await c.whoami()
    ids = [r.request.headers["x-request-id"] for r in replies]
    parents = [r.request.headers["traceparent"] for r in replies]
    assert len(set(ids)) == 2 and all(len(i) == 32 for i in ids)
    assert all(TRACEPARENT.match(p) for p in parents) and len(set(parents)) == 2
    assert [r.headers["x-request-id"] for r in replies] == ids


async def test_a_malformed_traceparent_is_not_sent_on(traced) -> None:
    c, replies = traced
    with trace_context(traceparent="not-a-traceparent"):
        await c.whoami()
    sent = replies[0].request.headers["traceparent"]
    assert sent != "not-a-traceparent" and TRACEPARENT.match(sent)
