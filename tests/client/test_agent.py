"""Threads, messages, state, artifacts and metrics surfaces."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from unison_client import NotFoundError, PreconditionFailed, UnisonClient, ValidationError
from unison_client.models import MetricIn


async def test_threads_and_messages(u: UnisonClient) -> None:
    t = await u.threads.create("planner", title="trip", metadata={"k": 1})
    assert (t.agent_name, t.status, t.message_count) == ("planner", "active", 0)
    m1 = await u.messages.append(t.id, "user", "book a train")
    m2 = await u.messages.append(t.id, "assistant", "done", parent_message_id=m1.id,
                                 metadata={"tool": "rail"})
    assert (m1.seq, m2.seq, m2.parent_message_id) == (1, 2, m1.id)
    newest = await u.messages.list(t.id, order="newest", limit=1)
    assert [m.content for m in newest.items] == ["done"] and newest.next_cursor
    assert [m.id for m in (await u.messages.list(t.id, role="user")).items] == [m1.id]
    with pytest.raises(ValidationError) as err:
        await u.messages.append(t.id, "user", "x", parent_message_id="msg_0000000000000000")
    assert err.value.status == 422
    updated = await u.threads.update(t.id, title=None, status="paused")
    assert (updated.title, updated.status, updated.message_count) == (None, "paused", 2)
    assert [x.id for x in (await u.threads.list(status="paused")).items] == [t.id]
    assert (await u.threads.get(t.id)).metadata == {"k": 1}
    assert await u.messages.clear(t.id) == 2
    deleted = await u.threads.delete(t.id)
    assert deleted.id == t.id
    with pytest.raises(NotFoundError):
        await u.threads.get(t.id)


async def test_state_versions_and_check_and_set(u: UnisonClient) -> None:
    t = await u.threads.create("agent")
    with pytest.raises(NotFoundError):
        await u.state.get(t.id)
    s1 = await u.state.put(t.id, {"step": 1}, if_match=0)
    s2 = await u.state.put(t.id, {"step": 2}, if_match=s1.version)
    assert (s1.version, s2.version) == (1, 2)
    with pytest.raises(PreconditionFailed):
        await u.state.put(t.id, {"step": 9}, if_match=1)
    assert (await u.state.get(t.id)).data == {"step": 2}
    assert (await u.state.get(t.id, version=1)).data == {"step": 1}
    versions = await u.state.versions(t.id)
    assert versions.current_version == 2 and [v.version for v in versions.items] == [2, 1]
    restored = await u.state.restore(t.id, 1, if_match=2)
    assert (restored.version, restored.data) == (3, {"step": 1})
    assert await u.state.delete(t.id) == 3


async def test_artifacts(u: UnisonClient) -> None:
    t = await u.threads.create("coder")
    inline = await u.artifacts.create(t.id, "out.txt", "file", content=b"print(1)",
                                      content_type="text/x-python")
    assert inline.size_bytes == 8 and inline.sha256
    assert await u.artifacts.content(t.id, inline.id) == b"print(1)"
    obj = await u.objects.upload(b"big payload")
    by_ref = await u.artifacts.create(t.id, "big", "blob", object_id=obj.id)
    assert by_ref.object_id == obj.id
    bare = await u.artifacts.create(t.id, "remote", "link", path="s3://x/y", size=5)
    with pytest.raises(NotFoundError):
        await u.artifacts.content(t.id, bare.id)
    assert (await u.artifacts.get(t.id, bare.id)).path == "s3://x/y"
    assert {a.id for a in (await u.artifacts.list(t.id, type="file")).items} == {inline.id}
    assert (await u.artifacts.delete(t.id, inline.id)).payload_deleted is True


async def test_metrics(u: UnisonClient) -> None:
    now = datetime.now(UTC)
    point = await u.metrics.record("agent", "planner", "latency_ms", 12.5,
                                   labels={"model": "m1"}, timestamp=now)
    assert point.value == 12.5 and point.labels == {"model": "m1"}
    batch = await u.metrics.record_batch([
        MetricIn(entity_type="agent", entity_name="planner", metric_name="latency_ms",
                 value=v, timestamp=now - timedelta(seconds=i))
        for i, v in enumerate([10.0, 20.0, 30.0])])
    assert batch.recorded == 3
    page = await u.metrics.query(metric_name="latency_ms", labels={"model": "m1"})
    assert [p.id for p in page.items] == [point.id]
    agg = await u.metrics.aggregate("latency_ms", bucket="1d", entity_type="agent",
                                    start=now - timedelta(hours=1))
    assert sum(b.count for b in agg.items) == 4
    assert max(b.max for b in agg.items) == 30.0
    with pytest.raises(ValidationError) as err:
        await u.metrics.record("agent", "planner", "x", float("nan"))
    assert err.value.status == 422
