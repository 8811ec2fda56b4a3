"""KV, memory and vault surfaces against the real storage service."""

from __future__ import annotations

import pytest

from unison_client import (
    DuplicateError,
    GoneError,
    NotFoundError,
    PreconditionFailed,
    UnisonClient,
    ValidationError,
)


async def test_kv_round_trip_and_check_and_set(u: UnisonClient) -> None:
    first = await u.kv.put("prefs", "theme", {"dark": True})
    assert (first.version, first.value) == (1, {"dark": True})
    got = await u.kv.get("prefs", "theme")
    assert got.value == {"dark": True} and got.etag == first.etag
    second = await u.kv.put("prefs", "theme", {"dark": False}, if_match=first.version)
    assert second.version == 2
    with pytest.raises(PreconditionFailed) as stale:
        await u.kv.put("prefs", "theme", {"dark": True}, if_match=first.version)
    assert stale.value.status == 412
    with pytest.raises(PreconditionFailed):
        await u.kv.put("prefs", "theme", 1, create_only=True)
    await u.kv.put("prefs", "font", "mono", ttl_seconds=60)
    page = await u.kv.list("prefs", prefix="")
    assert [r.key for r in page.items] == ["font", "theme"]
    assert page.items[0].expires_at is not None
    await u.kv.delete("prefs", "theme", if_match=second.etag)
    with pytest.raises(NotFoundError):
        await u.kv.get("prefs", "theme")


async def test_kv_tenants_do_not_see_each_other(make_client, alice, bob) -> None:
    await make_client(alice).kv.put("ns", "k", "alice's")
    with pytest.raises(NotFoundError):
        await make_client(bob).kv.get("ns", "k")


async def test_memory_surface(u: UnisonClient) -> None:
    a = await u.memory.append("s1", {"turn": 1})
    b = await u.memory.append("s1", {"turn": 2}, key="last", ttl_seconds=120)
    assert b.key == "last" and b.id > a.id
    assert (await u.memory.latest("s1")).payload == {"turn": 2}
    assert (await u.memory.get("s1", a.id)).payload == {"turn": 1}
    replaced = await u.memory.put("s1", "last", {"turn": 3})
    assert (await u.memory.get_key("s1", "last")).payload == {"turn": 3}
    assert replaced.keyspace == "default"
    page = await u.memory.list("s1", limit=10)
    assert [e.payload["turn"] for e in page.items] == [3, 1]
    await u.memory.delete("s1", a.id)
    with pytest.raises(NotFoundError):
        await u.memory.get("s1", a.id)
    await u.memory.delete_key("s1", "last")
    with pytest.raises(NotFoundError):
        await u.memory.latest("s1")
    await u.memory.append("s2", "x")
    await u.memory.append("s2", "y")
    assert await u.memory.clear("s2") == 2


async def test_memory_ttl_over_maximum_is_a_validation_error(u: UnisonClient) -> None:
    with pytest.raises(ValidationError) as err:
        await u.memory.append("s", 1, ttl_seconds=10**9)
    assert err.value.status == 422
    assert err.value.detail


async def test_vault_surface(u: UnisonClient) -> None:
    meta = await u.vault.put("openai/api-key", "sk-1", metadata={"owner": "ops"})
    assert (meta.name, meta.version) == ("openai/api-key", 1)
    assert await u.vault.value("openai/api-key") == "sk-1"
    await u.vault.put("openai/api-key", "sk-2", cas=1)
    with pytest.raises(PreconditionFailed):
        await u.vault.put("openai/api-key", "sk-3", cas=1)
    assert (await u.vault.get("openai/api-key", version=1)).value == "sk-1"
    detail = await u.vault.metadata("openai/api-key")
    assert [v.version for v in detail.versions] == [1, 2]
    assert detail.metadata == {"owner": "ops"}
    names = [s.name for s in (await u.vault.list(prefix="openai/")).items]
    assert names == ["openai/api-key"]
    destroyed = await u.vault.destroy("openai/api-key", [1])
    assert destroyed.destroyed == [1]
    with pytest.raises(GoneError):
        await u.vault.get("openai/api-key", version=1)
    await u.vault.delete("openai/api-key")
    with pytest.raises(GoneError) as gone:
        await u.vault.value("openai/api-key")
    assert isinstance(gone.value, NotFoundError) and gone.value.status == 410
    assert (await u.vault.undelete("openai/api-key")).version == 2
    assert await u.vault.value("openai/api-key") == "sk-2"


async def test_audit_surface(u: UnisonClient, make_client, alice, make_caller) -> None:
    e1 = await u.audit.append("vault.read", actor="agent-7", target="openai/api-key",
                              payload={"ok": True})
    again = await u.audit.append("vault.read", id=e1.id, actor="agent-7")
    assert again.seq == e1.seq and again.hash == e1.hash
    e2 = await u.audit.append("vault.write", status="ok")
    assert e2.prev_hash == e1.hash
    assert (await u.audit.get(e1.id)).payload == {"ok": True}
    page = await u.audit.list(action="vault.read", order="asc")
    assert [e.id for e in page.items] == [e1.id]
    checkpoint = await u.audit.checkpoint()
    assert checkpoint.seq == e2.seq
    assert (await u.audit.checkpoints()).items[0].hash == checkpoint.hash
    verdict = await u.audit.verify(checkpoint)
    assert verdict.valid and verdict.checked == 2
    # Another person of the household may not reuse an event id: 409.
    housemate = make_client(make_caller(household_id=alice.household_id))
    with pytest.raises(DuplicateError) as dup:
        await housemate.audit.append("x", id=e1.id)
    assert dup.value.status == 409 and "id" in dup.value.detail
