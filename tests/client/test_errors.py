"""Every exception class, each raised by the real service (or a real closed port), with
the problem detail and the request id."""

from __future__ import annotations

import pytest

from unison_client import (
    BadRequestError,
    ConnectionError,
    NotFoundError,
    PermissionDenied,
    UnisonClient,
    UnisonError,
    ValidationError,
)


async def test_not_found_carries_problem_and_request_id(u: UnisonClient) -> None:
    with pytest.raises(NotFoundError) as err:
        await u.kv.get("ns", "absent")
    e = err.value
    assert isinstance(e, UnisonError)
    assert e.status == 404 and e.detail == "no record ns/absent"
    assert e.problem["type"].endswith("/not-found") and e.title == "Not found"
    assert e.type == e.problem["type"]
    assert e.problem["instance"] == "/v1/kv/ns/absent"
    assert e.request_id and e.request_id == e.problem["request_id"]
    assert e.request_id in str(e) and "404" in str(e)


async def test_validation_error_names_the_fields(u: UnisonClient) -> None:
    with pytest.raises(ValidationError) as err:
        await u.kv.put("bad namespace!", "k", 1)
    assert err.value.fields == ["namespace"]
    assert err.value.errors[0].message
    with pytest.raises(ValidationError) as many:
        await u.threads.update("session_0000000000000000", status="asleep")
    assert many.value.fields == ["status"]


async def test_permission_denied_401_and_403(make_client, alice) -> None:
    anonymous = make_client(None)
    with pytest.raises(PermissionDenied) as unauth:
        await anonymous.whoami()
    assert unauth.value.status == 401
    forged = make_client(alice)
    forged._http.token = alice.token[:-4] + "AAAA"
    with pytest.raises(PermissionDenied):
        await forged.kv.get("ns", "k")
    with pytest.raises(PermissionDenied) as forbidden:
        await make_client(alice).audit.list(person_id="someone-else")
    assert forbidden.value.status == 403 and forbidden.value.request_id


async def test_bad_request(u: UnisonClient) -> None:
    t = await u.threads.create("a")
    for i in range(3):
        await u.messages.append(t.id, "user", str(i))
    cursor = (await u.messages.list(t.id, order="newest", limit=1)).next_cursor
    with pytest.raises(BadRequestError) as err:
        await u.messages.list(t.id, order="oldest", cursor=cursor)
    assert err.value.status == 400


async def test_connection_error_on_a_closed_port(alice) -> None:
    from unison_devstack.procs import free_port

    async with UnisonClient(storage_url=f"http://127.0.0.1:{free_port()}", token=alice.token,
                            retries=1, backoff=0.01) as c:
        with pytest.raises(ConnectionError) as err:
            await c.kv.get("ns", "k")
    assert err.value.status is None and err.value.request_id
    assert "GET http://127.0.0.1:" in str(err.value)


async def test_whoami(u: UnisonClient, alice) -> None:
    me = await u.whoami()
    assert (me.person_id, me.tenant_id) == (alice.person_id, alice.household_id)


async def test_a_timeout_is_a_connection_error(alice) -> None:
    """A real server that accepts the connection and never answers."""
    import asyncio

    held: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        await reader.read(65536)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with UnisonClient(storage_url=f"http://127.0.0.1:{port}", token=alice.token,
                                timeout=0.3, retries=1, backoff=0.01) as c:
            with pytest.raises(ConnectionError) as err:
                await c.whoami()
        assert "ReadTimeout" in str(err.value) or "timed out" in str(err.value).lower()
        assert len(held) == 2  # tried twice: a read is safe to repeat
    finally:
        for w in held:
            w.close()
        server.close()
