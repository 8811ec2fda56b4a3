"""Planned path operations (unison_shared.compiled_routes) answer exactly what FastAPI's own
request handler answers.

Two apps are built from the same route declarations, one with `CompiledRoute` and one
with FastAPI's `APIRoute`, and the same requests (good and bad) go to both: status,
headers and body must be byte-identical. The storage API is compared the same way,
bodies included: the storage app as created (planned routes) against one built inside
`default_routing()`, whose routers keep FastAPI's routes and handlers.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Cookie, Depends, FastAPI, Header, Query, Request, Response, Security
from fastapi import Path as PathParam
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from unison_shared.compiled_routes import CompiledRoute, planned_routes
from unison_shared.errors import Conflict, install_error_handlers

from .asgi import _call, _sample_path, _scope


async def _send(app: FastAPI, method: str, path: str, body: bytes = b"",
                headers: dict[str, str] | None = None, query: str = "") -> tuple[Any, ...]:
    scope = _scope(method, path, headers=headers)
    scope["query_string"] = query.encode()
    if body:
        scope["headers"].append((b"content-length", str(len(body)).encode()))
    answer = await _call(app, scope, body)
    return answer["status"], answer["headers"], answer["body"]


# --- a catalogue of parameter shapes ----------------------------------------------------

class Item(BaseModel):
    name: str = Field(min_length=1, max_length=20)
    size: int = Field(default=1, ge=0)
    tags: list[str] = []


class Out(BaseModel):
    name: str
    size: int
    note: str | None = None


_bearer = HTTPBearer(auto_error=False)
calls: list[str] = []


async def who(request: Request,
              cred: HTTPAuthorizationCredentials | None = Security(_bearer)) -> str:
    calls.append("who")
    return cred.credentials[:6] if cred else "anon"


async def tenant(who_: Annotated[str, Depends(who)],
                 x_tenant: Annotated[str | None, Header()] = None) -> str:
    if x_tenant == "refuse":
        raise Conflict("tenant refused")
    return f"{who_}@{x_tenant or '-'}"


Who = Annotated[str, Depends(who)]
Tenant = Annotated[str, Depends(tenant)]


def _router() -> APIRouter:
    router = APIRouter(prefix="/t")

    @router.get("/p/{a}/{b}")
    async def path_params(a: Annotated[str, PathParam(pattern="^[a-z]+$")], b: int,
                          who_: Who, t: Tenant) -> dict[str, Any]:
        return {"a": a, "b": b, "who": who_, "t": t, "calls": len(calls)}

    @router.get("/q")
    async def query(q: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI default
                    n: Annotated[int, Query(ge=0, le=5)] = 2,
                    s: Annotated[str | None, Query(alias="search", max_length=4)] = None
                    ) -> dict[str, Any]:
        return {"q": q, "n": n, "s": s}

    @router.get("/h")
    async def headers(if_match: Annotated[str | None, Header()] = None,
                      x_list: Annotated[list[str] | None, Header()] = None,
                      x_need: Annotated[int, Header()] = 0,
                      session: Annotated[str | None, Cookie()] = None) -> dict[str, Any]:
        return {"if_match": if_match, "x_list": x_list, "x_need": x_need,
                "session": session}

    @router.put("/b/{name}", response_model=Out)
    async def body(name: str, item: Item, response: Response, t: Tenant,
                   if_none_match: Annotated[str | None, Header()] = None) -> dict[str, Any]:
        response.headers["ETag"] = '"1"'
        response.status_code = 201 if if_none_match == "*" else 200
        return {"name": item.name, "size": item.size, "extra": "dropped", "note": t}

    @router.post("/opt", status_code=202)
    async def optional_body(item: Item | None = None) -> dict[str, Any]:
        return {"got": item.model_dump() if item else None}

    @router.post("/bad-out", response_model=Out)
    async def bad_output() -> dict[str, Any]:
        return {"name": 5}

    @router.delete("/d", status_code=204)
    async def no_content() -> None:
        return None

    @router.get("/raw")
    async def raw(request: Request) -> Response:
        return Response(b"raw:" + request.url.path.encode(), media_type="text/plain")

    @router.get("/cached")
    async def cached(a: Who, b: Who, t: Tenant) -> dict[str, Any]:
        before = len(calls)
        return {"a": a, "b": b, "t": t, "calls_before": before}

    return router


def _app(route_class: type[APIRoute]) -> FastAPI:
    app = FastAPI()
    app.router.route_class = route_class
    install_error_handlers(app)
    router = _router()
    for route in list(router.routes):
        assert isinstance(route, APIRoute)
        app.router.add_api_route(
            route.path, route.endpoint, methods=route.methods,
            response_model=route.response_model, status_code=route.status_code)
    return app


REQUESTS: list[tuple[str, str, bytes, dict[str, str], str]] = [
    ("GET", "/t/p/abc/7", b"", {}, ""),
    ("GET", "/t/p/abc/7", b"", {"x-tenant": "acme"}, ""),
    ("GET", "/t/p/abc/7", b"", {"x-tenant": "refuse"}, ""),
    ("GET", "/t/p/ABC/x", b"", {}, ""),
    ("GET", "/t/p/abc/7", b"", {"authorization": "Basic abc"}, ""),
    ("GET", "/t/q", b"", {}, ""),
    ("GET", "/t/q", b"", {}, "q=a&q=b&n=5&search=abcd"),
    ("GET", "/t/q", b"", {}, "n=9&search=toolong"),
    ("GET", "/t/q", b"", {}, "n=x&q="),
    ("GET", "/t/h", b"", {"if-match": '"3"', "x-list": "a", "x-need": "4",
                          "cookie": "session=s1"}, ""),
    ("GET", "/t/h", b"", {"x-need": "four"}, ""),
    ("PUT", "/t/b/n1", b'{"name": "x", "size": 3}', {"content-type": "application/json"}, ""),
    ("PUT", "/t/b/n1", b'{"name": "x"}', {"content-type": "application/json",
                                          "if-none-match": "*", "x-tenant": "t1"}, ""),
    ("PUT", "/t/b/n1", b'{"name": ""}', {"content-type": "application/json"}, ""),
    ("PUT", "/t/b/n1", b'{"name": "x", "size": -1, "tags": [1, {}]}',
     {"content-type": "application/json"}, ""),
    ("PUT", "/t/b/n1", b'{"name": "x",', {"content-type": "application/json"}, ""),
    ("PUT", "/t/b/n1", b'{"name": "x"}', {"content-type": "application/merge-patch+json"}, ""),
    ("PUT", "/t/b/n1", b'{"name": "x"}', {"content-type": "text/plain"}, ""),
    ("PUT", "/t/b/n1", b'{"name": "x"}', {}, ""),
    ("PUT", "/t/b/n1", b"", {"content-type": "application/json"}, ""),
    ("PUT", "/t/b/n1", b"[1, 2]", {"content-type": "application/json; charset=utf-8"}, ""),
    ("PUT", "/t/b/n1", b'{"name": "x"}', {"content-type": "application/json",
                                          "x-tenant": "refuse"}, ""),
    ("POST", "/t/opt", b"", {}, ""),
    ("POST", "/t/opt", b'{"name": "o"}', {"content-type": "application/json"}, ""),
    ("POST", "/t/opt", b"null", {"content-type": "application/json"}, ""),
    ("POST", "/t/bad-out", b"", {}, ""),
    ("DELETE", "/t/d", b"", {}, ""),
    ("GET", "/t/raw", b"", {}, ""),
    ("GET", "/t/cached", b"", {}, ""),
]


@pytest.mark.parametrize(("method", "path", "body", "headers", "query"), REQUESTS)
async def test_planned_handler_answers_as_fastapi(method: str, path: str, body: bytes,
                                                  headers: dict[str, str],
                                                  query: str) -> None:
    standard, planned = _app(APIRoute), _app(CompiledRoute)
    assert len(planned_routes(planned)) == 9  # every shape above
    calls.clear()
    try:
        expected = await _send(standard, method, path, body, headers, query)
    except Exception as exc:  # a response validation error escapes both the same way
        with pytest.raises(type(exc)):
            await _send(planned, method, path, body, headers, query)
        return
    calls_standard = list(calls)
    calls.clear()
    assert await _send(planned, method, path, body, headers, query) == expected
    assert calls == calls_standard  # dependencies ran as often (cached per request)


async def with_yield() -> Any:  # module level: the routes' string annotations name it
    yield "x"


async def test_unsupported_shapes_keep_fastapis_handler() -> None:
    app = _app(CompiledRoute)

    @app.get("/gen")
    async def gen(x: Annotated[str, Depends(with_yield)]) -> dict[str, str]:
        return {"x": x}

    @app.get("/sync")
    def sync() -> dict[str, str]:
        return {"sync": "yes"}

    by_path = {r.path: r for r in app.router.routes if isinstance(r, CompiledRoute)}
    assert not by_path["/gen"].planned and not by_path["/sync"].planned
    assert by_path["/t/q"].planned
    assert (await _send(app, "GET", "/gen"))[2] == b'{"x":"x"}'
    assert (await _send(app, "GET", "/sync"))[2] == b'{"sync":"yes"}'


async def test_dependency_overrides_go_to_fastapis_handler() -> None:
    app = _app(CompiledRoute)

    async def fake_who() -> str:
        return "override"

    app.dependency_overrides[who] = fake_who
    status, _, body = await _send(app, "GET", "/t/p/abc/1")
    assert status == 200 and json.loads(body)["who"] == "override"


# --- the storage API ---------------------------------------------------------------------

def test_the_hot_storage_routes_are_planned(apps: tuple[FastAPI, FastAPI]) -> None:
    _, planned = apps
    routes = set(planned_routes(planned))
    for hot in ("GET /v1/whoami", "GET /v1/kv/{namespace}/{key}",
                "PUT /v1/kv/{namespace}/{key}", "POST /v1/memory/sessions/{session_id}/entries",
                "GET /v1/memory/sessions/{session_id}/entries/latest",
                "PUT /v1/vault/secrets/{name:path}", "GET /v1/vault/secrets/{name:path}",
                "POST /v1/audit"):
        assert hot in routes
    operations = {f"{m} {c.path}" for c in iter_route_contexts(planned.router.routes)
                  if isinstance(c.original_route, APIRoute) for m in c.methods or ()}
    # Only the object and file downloads and a person's export (they stream), the OTLP
    # receiver (it answers raw protobuf or JSON bytes) and the kit's docs routes (added
    # last, not from a service router) keep FastAPI's handler.
    assert {op.split(" ", 1)[1] for op in operations - routes} == {
        "/v1/objects/{object_id}", "/v1/objects/{object_id}/download", "/v1/traces",
        "/v1/files/{path:path}", "/v1/admin/persons/{person_id}/export",
        "/openapi.json", "/docs"}


_BODIES: list[tuple[bytes, dict[str, str]]] = [
    (b"{}", {"content-type": "application/json"}),
    (b'{"value": {"a": 1}, "ttl_seconds": 5, "payload": {"x": 1}, "action": "a", '
     b'"session_id": "s", "key": "k", "person_id": "p-routing", "data": {}}',
     {"content-type": "application/json"}),
    (b'{"value": 1, "ttl_seconds": -1, "action": 5, "payload": []}',
     {"content-type": "application/json"}),
    (b'{"oops', {"content-type": "application/json"}),
    (b"[]", {"content-type": "application/json", "if-match": '"1"'}),
    (b"x=1", {"content-type": "application/x-www-form-urlencoded"}),
    (b"", {}),
]


async def test_storage_routes_answer_as_with_fastapis_handler(
        apps: tuple[FastAPI, FastAPI]) -> None:
    standard, planned = apps
    compared = 0
    for context in iter_route_contexts(standard.router.routes):
        if not isinstance(context.original_route, APIRoute):
            continue
        path = _sample_path(context)
        for method in sorted(context.methods or ()):
            for body, headers in (_BODIES if method in ("POST", "PUT", "PATCH")
                                  else [(b"", {})]):
                for query in ("", "limit=0&cursor=" + "x" * 3000):
                    a = await _send(standard, method, path, body, headers, query)
                    b = await _send(planned, method, path, body, headers, query)
                    if context.path_format in ("/ready", "/readyz", "/metrics"):
                        assert a[0] == b[0]
                        continue
                    assert a == b, (method, path, body, query)
                    compared += 1
    assert compared > 200
