"""Bad input on every route: a 4xx that names the field, never a 500."""

from __future__ import annotations

import pytest

P = "{pid}"
CASES = [
    # legacy
    ("POST", f"/profile/{P}", {"json": {"profile": "x"}}, 400, "profile"),
    ("POST", f"/profile/{P}", {"json": {"profile": {"name": "a\u0000b"}}}, 400, "profile"),
    ("POST", f"/profile/{P}", {"json": {"profile": {"pin": "12"}}}, 400, "profile.pin"),
    ("POST", f"/dashboard/{P}", {"json": {"dashboard": {"cards": 1}}}, 400,
     "dashboard.cards"),
    ("POST", f"/conversation/{P}/s", {"json": {"messages": "x"}}, 400, "messages"),
    ("POST", f"/conversation/{P}/s", {"json": {"response": [1]}}, 400, "response"),
    ("POST", f"/conversation/{P}/s", {"json": {"summary": 5}}, 400, "summary"),
    ("POST", f"/conversation/{P}/s", {"json": {"messages": ["a\u0000"]}}, 400,
     "messages[0]"),
    ("GET", f"/conversation/{P}/" + "s" * 300, {}, 400, "session_id"),
    ("POST", "/kv/put", {"json": {"person_id": P, "tier": "A",
                                  "items": {P + ":k": "\u0000"}}}, 400, "items." + P + ":k"),
    ("POST", "/kv/get", {"json": {"keys": "x"}}, 400, "keys"),
    ("POST", "/kv/get", {"json": {"keys": [1]}}, 400, "keys[0]"),
    ("POST", "/kv/get", {"json": {}}, 400, "keys"),
    ("POST", "/kv/set", {"json": {"value": 1}}, 400, "key"),
    ("POST", "/kv/set", {"json": {"key": 5, "value": 1}}, 400, "key"),
    ("POST", "/kv/set", {"json": {"key": "a\u0001", "value": 1}}, 400, "key"),
    ("POST", "/profile.export", {"json": {}}, 400, "person_id"),
    # /v1
    ("GET", f"/v1/profiles/{P}", {"params": {"view": "x"}}, 422, "view"),
    ("PUT", f"/v1/profiles/{P}", {"json": [1]}, 422, "profile"),
    ("PUT", f"/v1/profiles/{P}", {"json": {"a": "\u0000"}}, 422, "profile"),
    ("PATCH", f"/v1/profiles/{P}", {"json": "x"}, 422, "profile"),
    ("PUT", f"/v1/profiles/{P}", {"json": {"payments": {"instruments": [1]}}}, 422,
     "profile.payments.instruments[0]"),
    ("GET", f"/v1/profiles/{P}/history", {"params": {"cursor": "abc"}}, 400, "cursor"),
    ("GET", f"/v1/profiles/{P}/history", {"params": {"limit": 0}}, 422, "limit"),
    ("POST", f"/v1/profiles/{P}/credentials/verify", {"json": {}}, 422, "secret"),
    ("POST", f"/v1/profiles/{P}/credentials/verify", {"json": {"kind": "x", "secret": "1"}},
     422, "kind"),
    ("PUT", f"/v1/dashboards/{P}", {"json": {"preferences": 1}}, 422,
     "dashboard.preferences"),
    ("PATCH", f"/v1/dashboards/{P}", {"json": [1]}, 422, "dashboard"),
    ("PUT", f"/v1/dashboards/{P}", {"json": "x"}, 422, "dashboard"),
    ("GET", f"/v1/conversations/{P}/sessions", {"params": {"cursor": "!!"}}, 400, "cursor"),
    ("GET", f"/v1/conversations/{P}/sessions", {"params": {"limit": 1000}}, 422, "limit"),
    ("POST", f"/v1/conversations/{P}/sessions/s/messages", {"json": {"messages": []}}, 422,
     "messages"),
    ("POST", f"/v1/conversations/{P}/sessions/s/messages",
     {"json": {"messages": [{"content": "x"}]}}, 422, "messages.0.role"),
    ("POST", f"/v1/conversations/{P}/sessions/s/messages",
     {"json": {"messages": [{"role": "u", "content": "\u0000"}]}}, 422, "messages[0]"),
    ("GET", f"/v1/conversations/{P}/sessions/s/messages", {"params": {"order": "up"}}, 422,
     "order"),
    ("GET", f"/v1/conversations/{P}/sessions/s/messages", {"params": {"cursor": "x"}}, 400,
     "cursor"),
    ("PATCH", f"/v1/conversations/{P}/sessions/s", {"json": {"summary": 3}}, 422,
     "summary"),
    ("PATCH", f"/v1/conversations/{P}/sessions/s", {"json": {"response": "x"}}, 422,
     "response"),
    ("DELETE", f"/v1/conversations/{P}/sessions/" + "s" * 300, {}, 422, "session_id"),
]


def _fill(value, pid):
    if isinstance(value, str):
        return value.replace(P, pid)
    if isinstance(value, dict):
        return {_fill(k, pid): _fill(v, pid) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, pid) for v in value]
    return value


def _fields(body) -> list[str]:
    fields = [body["field"]] if "field" in body else []
    fields += [e["field"] for e in body.get("errors", [])]
    if not fields and "detail" in body:
        fields.append(str(body["detail"]).split(":")[0])
    return fields


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "field"), CASES,
                         ids=[f"{c[0]} {c[1]} {c[4]}" for c in CASES])
async def test_bad_input_names_the_field(client, alice, method, path, kwargs, status, field):
    pid = alice.person_id
    kwargs = _fill(kwargs, pid)
    if "json" in kwargs:
        import json

        kwargs = {**kwargs, "content": json.dumps(kwargs.pop("json")).encode(),
                  "headers": {"content-type": "application/json"}}
    headers = {**alice.headers, **kwargs.pop("headers", {})}
    r = await client.request(method, _fill(path, pid), headers=headers, **kwargs)
    assert r.status_code == status, r.text
    assert _fill(field, pid) in _fields(r.json()), r.text


async def test_oversized_values_are_413(client, alice):
    big = "x" * (300 * 1024)
    r = await client.put(f"/v1/profiles/{alice.person_id}", headers=alice.headers,
                         json={"blob": big})
    assert r.status_code == 413
    r = await client.post(f"/profile/{alice.person_id}", headers=alice.headers,
                          json={"profile": {"blob": big}})
    assert r.status_code == 413
    assert r.json()["ok"] is False
    r = await client.post("/kv/set", headers=alice.headers, json={"key": "k", "value": big})
    assert r.status_code == 413
