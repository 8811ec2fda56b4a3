"""The client's models and routes held against the storage service's own OpenAPI
document: a field added, removed, retyped or made required on either side fails here."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from unison_client import models
from unison_client._http import ROUTES


@pytest.fixture
async def openapi(storage_app) -> dict[str, Any]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=storage_app),
                                 base_url="http://storage") as c:
        r = await c.get("/openapi.json")
    assert r.status_code == 200
    doc: dict[str, Any] = r.json()
    return doc


def _kinds(schema: dict[str, Any], defs: dict[str, Any]) -> frozenset[str]:
    """The JSON types a schema admits ('any' for an unconstrained one)."""
    if "$ref" in schema:
        return _kinds(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return frozenset().union(*(_kinds(s, defs) for s in schema[key]))
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return _kinds(schema["allOf"][0], defs)
    values = schema.get("enum") or ([schema["const"]] if "const" in schema else None)
    if values is not None:
        return frozenset(type(v).__name__ for v in values) and frozenset(
            {"string" if isinstance(v, str) else "number" for v in values})
    kind = schema.get("type")
    if kind is None:
        return frozenset({"object"} if "properties" in schema else {"any"})
    kinds = frozenset(kind if isinstance(kind, list) else [kind])
    return kinds | {"number"} if "integer" in kinds else kinds


def differences(cls: type[BaseModel], server: dict[str, Any],
                server_defs: dict[str, Any]) -> list[str]:
    mine = cls.model_json_schema(ref_template="#/$defs/{model}")
    my_defs = mine.get("$defs", {})
    out: list[str] = []
    theirs_props, mine_props = server.get("properties", {}), mine.get("properties", {})
    for name in sorted(set(theirs_props) ^ set(mine_props)):
        side = "service only" if name in theirs_props else "client only"
        out.append(f"{cls.__name__}.{name}: {side}")
    for name in sorted(set(theirs_props) & set(mine_props)):
        a, b = _kinds(theirs_props[name], server_defs), _kinds(mine_props[name], my_defs)
        if a != b and "any" not in a | b:
            out.append(f"{cls.__name__}.{name}: service {sorted(a)}, client {sorted(b)}")
    if set(server.get("required", [])) != set(mine.get("required", [])):
        out.append(f"{cls.__name__}: required service {sorted(server.get('required', []))}"
                   f", client {sorted(mine.get('required', []))}")
    return out


def _client_models() -> list[type[BaseModel]]:
    found = [getattr(models, n) for n in models.__all__]
    return [m for m in found if isinstance(m, type) and issubclass(m, BaseModel)
            and m is not models.Model]


def test_every_model_matches_its_openapi_component(openapi) -> None:
    components = openapi["components"]["schemas"]
    problems: list[str] = []
    checked = 0
    for cls in _client_models():
        name = cls.__name__
        # A name the legacy (compat) routes also use is qualified by its module.
        found = [k for k in components
                 if k.removesuffix("-Output").removesuffix("-Input").split("__")[-1] == name
                 and "compat" not in k]
        if not found:
            problems.append(f"{name}: no such component in the service's OpenAPI")
            continue
        # Two domains may use one name (metrics' and traces' `Recorded`: the OpenAPI
        # names them by module): the client's model must match one of them exactly.
        found_differences = [differences(cls, components[c], components) for c in found]
        if all(found_differences):
            problems += [d for ds in found_differences for d in ds]
        checked += 1
    assert problems == []
    assert checked >= 50


def test_the_check_sees_drift(openapi) -> None:
    components = openapi["components"]["schemas"]

    class KVRecord(models.KVRecord):
        shard: int  # a field the service does not have

    class Thread(models.Model):  # `status` retyped, the rest missing
        status: int

    assert differences(KVRecord, components["KVRecord"], components) == [
        "KVRecord.shard: client only",
        "KVRecord: required service " + str(sorted(components["KVRecord"]["required"]))
        + ", client " + str(sorted([*components["KVRecord"]["required"], "shard"]))]
    found = differences(Thread, components["Thread"], components)
    assert "Thread.status: service ['string'], client ['integer', 'number']" in found
    assert "Thread.agent_name: service only" in found


def test_every_route_the_client_calls_exists(openapi) -> None:
    paths = openapi["paths"]
    storage = [r for r in ROUTES if r.service == "storage"]
    missing = [f"{r.method} {r.template}" for r in storage
               if r.method.lower() not in paths.get(r.template, {})]
    assert missing == []
    assert len(storage) >= 60
