"""The route index (unison_shared.routing) serves exactly what FastAPI's default lookup
serves: every request goes to two storage apps built from the same code, one indexed (as
create_service_app builds them) and one inside `default_routing()` (FastAPI alone,
routers included with app.include_router), and the answers are compared.

The apps run without their lifespan: the domain services are a stand-in whose every use
is a NotFound, so a request goes through routing, authentication, validation, the
endpoint and the error handlers, never a database.
"""

from __future__ import annotations

import random
import string
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI, WebSocket
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.convertors import IntegerConvertor
from starlette.responses import PlainTextResponse
from starlette.routing import Mount

from tests.conftest import TEST_SECRET
from unison_devstack.tokens import mint_token
from unison_shared.auth import RequestContext, authenticated
from unison_shared.errors import Conflict
from unison_shared.routing import (
    RouteIndex,
    default_routing,
    include_router,
    literal_head,
    route_index,
)

from .conftest import build_app, storage_app_without_services

REQUEST_ID = "0123456789abcdef0123456789abcdef"
TRACEPARENT = "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01"
TOKEN = mint_token(TEST_SECRET, person_id="p-routing", household_id="h-routing")


def _scope(method: str, path: str, *, root_path: str = "",
           headers: dict[str, str] | None = None) -> dict[str, Any]:
    base = {"authorization": f"Bearer {TOKEN}", "x-request-id": REQUEST_ID,
            "traceparent": TRACEPARENT, "host": "storage"}
    base.update(headers or {})
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": method, "scheme": "http", "path": root_path + path,
            "raw_path": (root_path + path).encode(), "query_string": b"",
            "root_path": root_path, "client": ("127.0.0.1", 1), "server": ("storage", 80),
            "headers": [(k.encode(), v.encode()) for k, v in base.items()]}


async def _call(app: FastAPI, scope: dict[str, Any], body: bytes = b"") -> dict[str, Any]:
    """The response (status, headers, body) and the scope the app left behind."""
    answer: dict[str, Any] = {"body": b""}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
            answer["headers"] = sorted((k.lower(), v) for k, v in message["headers"]
                                       if k.lower() != b"date")
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    await app(scope, receive, send)
    answer["scope"] = scope
    return answer


# Their bodies carry timings and per-app counters.
VOLATILE = {"/ready", "/readyz", "/metrics"}


async def _same(apps: tuple[FastAPI, FastAPI], method: str, path: str,
                **kw: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Send one request to both apps; assert the same response."""
    default, indexed = apps
    a = await _call(default, _scope(method, path, **kw))
    b = await _call(indexed, _scope(method, path, **kw))
    if path in VOLATILE:
        assert a["status"] == b["status"], (method, path)
        return a, b
    assert (a["status"], a["headers"], a["body"]) == (b["status"], b["headers"], b["body"]), \
        (method, path)
    return a, b


def _endpoint_id(route: Any) -> tuple[str, str]:
    # Health endpoints are closures made per app: compare by name, not identity.
    endpoint = route.endpoint
    return endpoint.__module__, endpoint.__qualname__


def _sample_path(context: Any) -> str:
    path = context.path_format
    for name, convertor in context.param_convertors.items():
        path = path.replace("{" + name + "}",
                            "1" if isinstance(convertor, IntegerConvertor) else "x1")
    return str(path)


def test_literal_head() -> None:
    assert literal_head("/v1/kv/{namespace}/{key}") == ("v1", "kv")
    assert literal_head("/v1/memory/sessions/{session_id}/entries") == ("v1", "memory",
                                                                        "sessions")
    assert literal_head("/healthz") == ("healthz",)
    assert literal_head("/files/{name}.txt") == ("files",)
    assert literal_head("/v1/x{suffix}/y") == ("v1",)
    assert literal_head("/") == ("",)
    assert literal_head(None) == ()


async def test_every_route_is_chosen_as_fastapi_chooses_it(
        apps: tuple[FastAPI, FastAPI]) -> None:
    default, indexed = apps
    index = route_index(indexed)
    assert index is not None
    contexts = list(iter_route_contexts(default.router.routes))
    assert len(contexts) > 50  # the whole storage API, legacy paths included
    checked = 0
    for context in contexts:
        if not isinstance(context.original_route, APIRoute):
            continue  # /openapi.json and the docs pages: compared below
        path = _sample_path(context)
        for method in sorted(context.methods or ()):
            a, b = await _same(apps, method, path)
            chosen_default, chosen_indexed = a["scope"]["route"], b["scope"]["route"]
            assert _endpoint_id(chosen_default) == _endpoint_id(context.original_route)
            assert _endpoint_id(chosen_indexed) == _endpoint_id(chosen_default), path
            assert chosen_indexed.path_format == context.path_format
            assert chosen_indexed.methods == context.methods
            assert b["scope"]["path_params"] == a["scope"]["path_params"]
            # The index found it itself (no fallback), among a few candidates.
            selected = index.select(_scope(method, path))
            assert selected is not None
            assert selected[0] is chosen_indexed
            assert len(index.candidates(b["scope"])) < 10
            checked += 1
    assert checked == sum(len(c.methods or ()) for c in contexts
                          if isinstance(c.original_route, APIRoute))
    # The app router holds the storage routes as plain APIRoutes (nothing rescanned).
    assert all(isinstance(r, APIRoute) for r in indexed.router.routes[4:])


async def test_openapi_document_is_unchanged(apps: tuple[FastAPI, FastAPI]) -> None:
    a, _ = await _same(apps, "GET", "/openapi.json")
    assert a["status"] == 200
    default, _ = apps
    paths = default.openapi()["paths"]
    for context in iter_route_contexts(default.router.routes):
        if context.include_in_schema and isinstance(context.original_route, APIRoute):
            assert context.path_format in paths
    await _same(apps, "GET", "/docs")


@pytest.mark.parametrize(("method", "path"), [
    ("PATCH", "/v1/kv/ns/k"), ("POST", "/v1/whoami"), ("DELETE", "/healthz"),
    ("PATCH", "/kv/ns/k"), ("PUT", "/objects/abc"), ("DELETE", "/v1/audit"),
])
async def test_wrong_method_is_the_same_405(apps: tuple[FastAPI, FastAPI], method: str,
                                            path: str) -> None:
    a, _ = await _same(apps, method, path)
    assert a["status"] == 405
    assert any(k == b"allow" for k, _ in a["headers"])


@pytest.mark.parametrize("path", ["/v1/nope", "/v1/kv", "/nope", "/legacy/kv/x",
                                  "/v1/objects/a/b/c/d", "//v1/kv/a/b", "/"])
async def test_unknown_path_is_the_same_404(apps: tuple[FastAPI, FastAPI], path: str) -> None:
    a, _ = await _same(apps, "GET", path)
    assert a["status"] == 404


@pytest.mark.parametrize("path", ["/v1/whoami/", "/healthz/", "/v1/kv/ns/k/", "/kv/k/"])
async def test_trailing_slash_redirect_is_unchanged(apps: tuple[FastAPI, FastAPI],
                                                    path: str) -> None:
    a, _ = await _same(apps, "GET", path)
    assert a["status"] == 307
    assert dict(a["headers"])[b"location"] == f"http://storage{path.rstrip('/')}".encode()


async def test_root_path_is_honoured(apps: tuple[FastAPI, FastAPI]) -> None:
    a, b = await _same(apps, "GET", "/v1/whoami", root_path="/storage")
    assert a["status"] == 200
    assert b["scope"]["route"].path_format == "/v1/whoami"
    a, _ = await _same(apps, "GET", "/v1/kv/ns/k", root_path="/storage")
    assert a["status"] == 404 and b"no services" in a["body"]


async def test_a_route_added_later_is_found(tmp_path: Path) -> None:
    app = storage_app_without_services(tmp_path)
    index = route_index(app)
    assert index is not None
    first = index.table()
    assert (await _call(app, _scope("GET", "/v1/late/x1")))["status"] == 404

    @app.get("/v1/late/{item}")
    async def late(item: str) -> dict[str, str]:
        return {"late": item}

    answer = await _call(app, _scope("GET", "/v1/late/x1"))
    assert (answer["status"], answer["body"]) == (200, b'{"late":"x1"}')
    assert index.table() is not first

    # A router included the FastAPI way stays an included router, still found...
    plain = APIRouter(prefix="/v1/plain")

    @plain.get("/{item}")
    async def plain_item(item: str) -> dict[str, str]:
        return {"plain": item}

    app.include_router(plain)
    assert (await _call(app, _scope("GET", "/v1/plain/p"))).get("body") == b'{"plain":"p"}'
    # ...and a route added to it afterwards too (FastAPI's included routers are live).
    plain.add_api_route("/{item}/more", plain_item)
    assert (await _call(app, _scope("GET", "/v1/plain/q/more")))["body"] == b'{"plain":"q"}'
    # An earlier route keeps winning over a later one matching the same path.
    app.add_api_route("/v1/whoami", late)
    assert (await _call(app, _scope("GET", "/v1/whoami")))["scope"]["route"].endpoint \
        is not late


async def test_random_paths_do_not_grow_the_index(apps: tuple[FastAPI, FastAPI]) -> None:
    _, indexed = apps
    index = route_index(indexed)
    assert index is not None
    table = index.table()
    heads = {literal_head(getattr(r, "path_format", None)) for r in indexed.router.routes}
    heads.add(())
    assert set(table.buckets) == heads
    rng = random.Random(7)
    alphabet = string.ascii_lowercase + "/{}%."
    for n in range(10_000):
        depth = rng.randint(0, 6)
        path = "/" + "/".join("".join(rng.choices(alphabet, k=rng.randint(0, 8)))
                              for _ in range(depth))
        scope = _scope("GET", path)
        index.select(scope)
        if n % 20 == 0:  # a share through the whole app, compared with FastAPI's answer
            await _same(apps, "GET", path)
    assert index.table() is table
    assert set(table.buckets) == heads
    assert len(vars(index)) == 2  # router and table: no other per-request state


async def test_dependency_overrides_apply(apps: tuple[FastAPI, FastAPI]) -> None:
    def overridden() -> RequestContext:
        raise Conflict("the override ran")

    for app in apps:
        app.dependency_overrides[authenticated] = overridden
    try:
        a, _ = await _same(apps, "GET", "/v1/whoami")
        await _same(apps, "GET", "/kv/ns/k")
    finally:
        for app in apps:
            app.dependency_overrides.clear()
    assert a["status"] == 409 and b"the override ran" in a["body"]


async def _websocket(app: FastAPI, path: str) -> list[dict[str, Any]]:
    """Connect, then return what the app sent until it closed the socket."""
    scope = {"type": "websocket", "asgi": {"version": "3.0"}, "path": path,
             "raw_path": path.encode(), "root_path": "", "query_string": b"", "headers": [],
             "scheme": "ws", "client": ("127.0.0.1", 1), "server": ("storage", 80),
             "subprotocols": []}
    sent: list[dict[str, Any]] = []
    inbox = [{"type": "websocket.connect"}]

    async def receive() -> dict[str, Any]:
        return inbox.pop(0) if inbox else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    await app(scope, receive, send)
    return sent


async def _lifespan(app: FastAPI) -> list[str]:
    """Run the lifespan scope (startup, then shutdown): the message types sent back."""
    inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[str] = []

    async def receive() -> dict[str, Any]:
        return inbox.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message["type"])

    await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    return sent


async def test_mounts_and_websockets(tmp_path: Path) -> None:
    app = storage_app_without_services(tmp_path)
    sub = FastAPI()

    @sub.get("/hello")
    async def hello() -> PlainTextResponse:
        return PlainTextResponse("mounted")

    app.mount("/sub", sub)
    assert isinstance(app.router.routes[-1], Mount)

    @app.websocket("/ws/{room}")
    async def ws(websocket: WebSocket, room: str) -> None:
        await websocket.accept()
        await websocket.send_text(f"room {room}")
        await websocket.close()

    mounted = await _call(app, _scope("GET", "/sub/hello"))
    assert (mounted["status"], mounted["body"]) == (200, b"mounted")
    assert (await _call(app, _scope("GET", "/sub/nope")))["status"] == 404
    sent = await _websocket(app, "/ws/r1")
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.send",
                                         "websocket.close"]
    assert sent[1]["text"] == "room r1"
    assert (await _websocket(app, "/ws"))[0]["type"] == "websocket.close"  # no such route


async def test_lifespan_and_startup_handlers_of_included_routers() -> None:
    runs: dict[str, list[str]] = {}
    for label in ("default", "indexed"):
        if label == "default":
            with default_routing():
                app = build_app()  # create_service_app, without the storage lifespan
        else:
            app = build_app()
        started: list[str] = []
        runs[label] = started

        def on_startup(started: list[str] = started) -> None:
            started.append("up")

        router = APIRouter(on_startup=[on_startup])

        @router.get("/v1/withstartup")
        async def with_startup() -> dict[str, bool]:
            return {"ok": True}

        include_router(app, router)
        assert isinstance(app.router.routes[-1], APIRoute) == (label == "indexed")
        assert await _lifespan(app) == ["lifespan.startup.complete",
                                        "lifespan.shutdown.complete"]
        answer = await _call(app, _scope("GET", "/v1/withstartup"))
        assert (answer["status"], answer["body"]) == (200, b'{"ok":true}')
    # FastAPI runs an included router's startup handler through the app's handlers and
    # again through the router's merged lifespan: flattened or not, the same.
    assert runs["indexed"] == runs["default"]
    assert runs["default"]


async def test_unsafe_routers_are_included_the_fastapi_way(tmp_path: Path) -> None:
    app = storage_app_without_services(tmp_path)
    router = APIRouter(prefix="/v1/rt")

    @router.get("/a")
    async def a() -> dict[str, str]:
        return {"a": "a"}

    @router.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.close()

    count = len(app.router.routes)
    include_router(app, router)
    assert len(app.router.routes) == count + 1
    assert not isinstance(app.router.routes[-1], APIRoute)  # FastAPI's included router
    assert (await _call(app, _scope("GET", "/v1/rt/a")))["body"] == b'{"a":"a"}'
    assert isinstance(route_index(app), RouteIndex)
