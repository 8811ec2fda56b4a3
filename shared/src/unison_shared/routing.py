"""An indexed route lookup: a request is matched only against the routes that can match it.

FastAPI walks the app's routes in order and, for a router added with `include_router`,
walks that router's routes twice (once to find it, once to dispatch into it), so a
request to a route registered late (the legacy paths) or to no route at all pays for
every route before it. The index groups the routes by their *literal head*, the path
segments before the first `{param}` ("/v1/kv/{namespace}/{key}" -> ("v1", "kv")): a
route can only match a path whose segments start with its head, so a request is tried
against the routes whose head is a prefix of its own segments, in registration order.

Semantics are FastAPI's own: the first route answering a FULL match wins, exactly as in
`APIRouter.app`; when no candidate answers FULL (405, trailing-slash redirect, 404,
low-priority frontend routes), or for websocket and lifespan scopes, the request goes to
FastAPI's unmodified `APIRouter.app`. The table is keyed only by the heads that exist,
never by request input, so random paths cannot grow it; it is rebuilt when the routes
change (including routers included after the index was installed).

`include_router(app, router)` adds a router's path operations to the app's own router as
plain `APIRoute`s (the route state FastAPI would compute for the inclusion, read through
the public `iter_route_contexts`), when that is provably equivalent; otherwise it calls
`app.include_router`. Plain routes dispatch directly; an included router still works
through the index, only without the saving of its second scan.

FastAPI / Starlette private names this module relies on, all here:
1. `APIRouter._get_routes_version()` and the counter it sums, `APIRouter._routes_version`:
   FastAPI's own change count of a router and of every router included in it (its
   OpenAPI cache uses it); the index is rebuilt when it moves. There is no public
   equivalent. While the app holds no included router, the plain counter is read (the
   recursive walk over every route cost 4 us a request).
2. `starlette._utils.get_route_path(scope)`: the path the routes' regexes are matched
   against (`root_path` stripped); imported so the index splits exactly that string.
3. The scope keys "fastapi.telemetry" and "fastapi": when native telemetry is active the
   request goes to FastAPI's own loop (it records the selected route through a private
   hook); a child scope carrying "fastapi" state (never the case for the route types
   the app holds) goes there too instead of being merged by hand.
4. Guards of the flattening only (a missing attribute means "do not flatten"):
   `APIRouter._low_priority_routes` (frontend routes, kept only by `include_router`) and,
   for a router nested in the one being included, `.original_router` and
   `.include_context.form_limits` (limits applied per inclusion at request time).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

Head = tuple[str, ...]
_enabled: ContextVar[bool] = ContextVar("unison_route_index", default=True)


def literal_head(path_format: str | None) -> Head:
    """The segments of a route's path before the first one holding a parameter.

    None (a route not matched by path, e.g. a Host) or a path not starting with "/" has
    the empty head: it is a candidate for every request.
    """
    if not path_format or not path_format.startswith("/"):
        return ()
    head: list[str] = []
    for segment in path_format[1:].split("/"):
        if "{" in segment:
            break
        head.append(segment)
    return tuple(head)


def _route_heads(route: BaseRoute) -> set[Head]:
    """Heads under which `route` can match: its own, or for an included router (which
    has no path of its own) the heads of every route it dispatches to."""
    own = getattr(route, "path_format", None)
    if isinstance(own, str):
        return {literal_head(own)}
    heads = {literal_head(getattr(context, "path_format", None))
             for context in iter_route_contexts([route])}
    return heads or {()}


class _Table:
    """One immutable snapshot: for every existing head H, the routes whose head is a
    prefix of H, in registration order."""

    __slots__ = ("buckets", "depth", "key", "nested")

    def __init__(self, routes: list[BaseRoute]) -> None:
        self.key = (-1, 0, 0)
        entries = [(route, _route_heads(route)) for route in routes]
        # A route without a path of its own may be an included router, whose routes can
        # change without this router's list changing.
        self.nested = any(not isinstance(getattr(route, "path_format", None), str)
                          for route in routes)
        heads = {head for _, route_heads in entries for head in route_heads} | {()}
        self.depth = max(len(head) for head in heads)
        self.buckets: dict[Head, tuple[BaseRoute, ...]] = {
            head: tuple(route for route, route_heads in entries
                        if any(head[:len(h)] == h for h in route_heads))
            for head in heads}

    def candidates(self, route_path: str) -> tuple[BaseRoute, ...]:
        # Every route whose head is a prefix of the request's segments has a head that is
        # a prefix of the LONGEST existing head that is: that bucket holds exactly them.
        if route_path.startswith("/"):
            segments = route_path[1:].split("/", self.depth)
            buckets = self.buckets
            for length in range(min(self.depth, len(segments)), 0, -1):
                found = buckets.get(tuple(segments[:length]))
                if found is not None:
                    return found
        return self.buckets[()]


class RouteIndex:
    """The ASGI app an indexed router runs instead of `APIRouter.app` (see module doc)."""

    def __init__(self, router: APIRouter) -> None:
        self.router = router
        self._table: _Table | None = None

    def _key(self, nested: bool) -> tuple[int, int, int]:
        router = self.router
        # The version counts route changes made through FastAPI's API, in this router and
        # (the recursive, dearer form) in every included one; identity and length of the
        # list also catch direct edits of it.
        version = router._get_routes_version() if nested else router._routes_version
        return (version, id(router.routes), len(router.routes))

    def table(self) -> _Table:
        table = self._table
        if table is None or table.key != self._key(table.nested):
            table = _Table(list(self.router.routes))
            table.key = self._key(table.nested)
            self._table = table
        return table

    def candidates(self, scope: Scope) -> tuple[BaseRoute, ...]:
        return self.table().candidates(get_route_path(scope))

    def select(self, scope: Scope) -> tuple[BaseRoute, Scope] | None:
        """The route FastAPI would dispatch `scope` to with a FULL match, and its child
        scope; None when FastAPI's own loop must decide (no FULL match, or not http)."""
        if (scope["type"] != "http" or "fastapi.telemetry" in scope
                or self.router.form_limits):
            return None
        method = scope["method"]
        for route in self.candidates(scope):
            methods = getattr(route, "methods", None)
            if methods and method not in methods:
                continue  # Starlette's own test: at best PARTIAL (a 405), never selected
            match, child_scope = route.matches(scope)
            if match == Match.FULL:
                return None if "fastapi" in child_scope else (route, child_scope)
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        router = self.router
        if "router" not in scope:
            scope["router"] = router
        selected = self.select(scope)
        if selected is None:
            await router.app(scope, receive, send)
            return
        route, child_scope = selected
        # What APIRouter.app does with a FULL match of a route without FastAPI scope state
        # (its form limits are empty, and telemetry is off: checked in select).
        scope.update(child_scope)
        await route.handle(scope, receive, send)


@contextmanager
def default_routing() -> Iterator[None]:
    """Apps created inside this block keep FastAPI's default lookup and inclusion (for
    comparisons: tests and the benchmark)."""
    token = _enabled.set(False)
    try:
        yield
    finally:
        _enabled.reset(token)


def install_route_index(app: FastAPI) -> RouteIndex | None:
    """Route `app`'s requests through a RouteIndex; None when left on FastAPI's lookup
    (inside `default_routing()`, or when the router already wraps its app in
    router-level middleware, which the index would bypass)."""
    router = app.router
    if not _enabled.get() or router.middleware_stack != router.app:
        return None
    index = RouteIndex(router)
    router.middleware_stack = index  # what Starlette's Router.__call__ runs
    app.state.route_index = index
    return index


def route_index(app: FastAPI) -> RouteIndex | None:
    index = getattr(app.state, "route_index", None)
    return index if isinstance(index, RouteIndex) else None


def include_router(app: FastAPI, router: APIRouter) -> None:
    """`app.include_router(router)`, flattened into plain APIRoutes when the app is
    indexed and flattening cannot change what FastAPI would serve."""
    routes = app.router.routes
    count = len(routes)
    # FastAPI does its own bookkeeping (checks, startup/shutdown handlers, lifespan merge)
    # and appends one entry for the inclusion; that entry is then replaced by its routes.
    app.include_router(router)
    if (route_index(app) is None or len(routes) != count + 1
            or isinstance(routes[-1], APIRoute) or not _can_flatten(app.router, router)):
        return
    included = routes.pop()
    for context in iter_route_contexts([included]):
        route = context.original_route
        assert isinstance(route, APIRoute)
        assert context.path is not None
        options: dict[str, Any] = {}
        if route.form_limits:
            options["form_limits"] = route.form_limits
        # Every value is the one FastAPI computed for this inclusion (prefixes, tags,
        # dependencies, responses, response class, body limit of the routers in between).
        app.router.add_api_route(
            context.path, route.endpoint,
            response_model=context.response_model, status_code=context.status_code,
            tags=context.tags, dependencies=context.dependencies, summary=context.summary,
            description=context.description,
            response_description=context.response_description,
            responses=context.responses, deprecated=context.deprecated,
            methods=context.methods, operation_id=context.operation_id,
            response_model_include=context.response_model_include,
            response_model_exclude=context.response_model_exclude,
            response_model_by_alias=context.response_model_by_alias,
            response_model_exclude_unset=context.response_model_exclude_unset,
            response_model_exclude_defaults=context.response_model_exclude_defaults,
            response_model_exclude_none=context.response_model_exclude_none,
            include_in_schema=context.include_in_schema,
            response_class=context.response_class, name=context.name,
            route_class_override=(app.router.route_class if type(route) is APIRoute
                                  else type(route)), callbacks=context.callbacks,
            openapi_extra=context.openapi_extra,
            generate_unique_id_function=context.generate_unique_id_function,
            strict_content_type=context.strict_content_type,
            max_body_size=context.max_body_size, **options)


def _can_flatten(parent: APIRouter, router: APIRouter) -> bool:
    # The inclusion's values already contain the parent's prefix, tags, dependencies,
    # responses and callbacks: add_api_route would add them a second time.
    if (parent.prefix or parent.tags or parent.dependencies or parent.responses
            or parent.callbacks):
        return False
    return _plain_tree(router)


def _plain_tree(router: APIRouter) -> bool:
    """Only path operations (no Starlette routes, websockets, mounts, frontend routes,
    generator streams) and no form limits, in this router and the routers it includes."""
    if router.form_limits or getattr(router, "_low_priority_routes", [None]):
        return False
    for route in router.routes:
        if isinstance(route, APIRoute):
            if route.stream_item_type is not None:
                return False  # add_api_route would not carry it over
            continue
        nested = getattr(route, "original_router", None)
        context = getattr(route, "include_context", None)
        if (not isinstance(nested, APIRouter) or context is None
                or getattr(context, "form_limits", True) or not _plain_tree(nested)):
            return False
    return True
