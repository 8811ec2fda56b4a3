"""Path operations whose parameters are resolved by a plan built once per route.

FastAPI (0.165) re-derives, on every request and for every parameter and dependency,
facts that never change for a route: the parameter's aliases, whether its annotation
is a sequence, its dependency cache key, whether the callable is a coroutine, a copy of
its default. Measured in instructions (noise-free on this machine, docs/performance.md):
a header parameter costs ~68k instructions a request, a dependency ~75k, while a whole
single-row statement through asyncpg costs ~100k. The storage KV write spent ~590k of
its ~1,485k on this bookkeeping.

`CompiledRoute` is an `APIRoute` that builds that plan when the route is created and
runs it per request: the same values, validated by the same pydantic fields with the
same error locations, the same dependency order and caching, the same body parsing and
response serialization (the route handler below mirrors `fastapi.routing.
get_request_handler` for the shapes it accepts). The app's routes and OpenAPI document
are untouched: only the per-request work changes.

Anything outside the planned subset keeps FastAPI's own handler: generator (yield)
dependencies, background tasks, security scopes, parameter models, form bodies,
embedded or multiple bodies, streaming responses, custom response classes, synchronous
endpoints or dependencies. At request time, FastAPI's handler also serves every
request while dependency overrides are set (tests use them) or FastAPI's native
telemetry is recording. `tests/shared/test_compiled_routes.py` compares both handlers
on the same requests, good and bad, and checks which storage routes are planned.

FastAPI private names used here, all read at plan time only; a missing one means "no
plan" (the route keeps FastAPI's handler): `fastapi.dependencies.utils._get_param_aliases`
(the request keys a parameter answers to), `._get_param_model` (parameter models),
`APIRoute._embed_body_fields`, `fastapi.telemetry._api.get_telemetry_data`.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Coroutine
from copy import deepcopy
from dataclasses import dataclass
from typing import Any

from fastapi import params
from fastapi._compat import field_annotation_is_sequence, get_missing_field_error
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.models import Dependant
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError, ResponseValidationError
from fastapi.routing import APIRoute, APIRouter, iter_route_contexts
from fastapi.utils import is_body_allowed_for_status_code
from pydantic import Json
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

try:  # plan-time only; see the module docstring
    from fastapi.dependencies.utils import _get_param_aliases, _get_param_model
    from fastapi.telemetry._api import get_telemetry_data
except ImportError:  # pragma: no cover - another FastAPI: every route keeps its handler
    _get_param_aliases = _get_param_model = get_telemetry_data = None  # type: ignore[assignment]

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
_IMMUTABLE_DEFAULTS = (type(None), str, int, float, bool, bytes, tuple, frozenset)
_MISSING = object()


class _Unsupported(Exception):
    """The route uses a feature the plan does not cover; FastAPI's handler serves it."""


@dataclass(frozen=True)
class _Param:
    """A path, query, header or cookie parameter, with what FastAPI works out per request
    computed once."""

    name: str
    source: str  # "path" | "query" | "header" | "cookie"
    keys: tuple[str, ...]  # request keys, in preference order
    loc_kind: str
    sequence: bool
    required: bool
    default: Any
    copy_default: bool
    validate_default: bool
    field: Any  # fastapi's ModelField

    def resolve(self, request: Request, values: dict[str, Any], errors: list[Any],
                memo: dict[Any, Any]) -> None:
        source: Any
        if self.source == "path":
            source = request.path_params
        elif self.source == "header":
            source = request.headers if self.sequence else _header_map(request, memo)
        elif self.source == "query":
            source = request.query_params
        else:
            source = request.cookies
        keys = self.keys
        key = keys[0]
        if len(keys) > 1:
            key = next((k for k in keys if k in source), key)
        value: Any = source.getlist(key) if self.sequence else source.get(key)
        loc = (self.loc_kind, key)
        if value is None or (self.sequence and len(value) == 0):
            if self.required:
                errors.append(get_missing_field_error(loc=loc))
                return
            value = deepcopy(self.default) if self.copy_default else self.default
            if not self.validate_default:
                values[self.name] = value
                return
        validated, errs = self.field.validate(value, values, loc=loc)
        if errs:
            errors.extend(errs)
        else:
            values[self.name] = validated


_HEADERS = object()  # the memo's key for the request's header map


class _HeaderMap(dict[str, str]):
    """The request's headers as Starlette's `Headers.get` answers them (the first value of
    a repeated header; names matched in lower case), in one pass: `Headers.get` scans the
    list per lookup and raises and catches a KeyError for every absent header."""

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())


def _header_map(request: Request, memo: dict[Any, Any]) -> _HeaderMap:
    headers = memo.get(_HEADERS)
    if headers is None:
        headers = _HeaderMap()
        for name, value in request.scope["headers"]:
            headers.setdefault(name.decode("latin-1"), value.decode("latin-1"))
        memo[_HEADERS] = headers
    return headers


@dataclass(frozen=True)
class _Plan:
    """How to produce the keyword arguments of one callable (endpoint or dependency)."""

    call: Callable[..., Awaitable[Any]]
    name: str | None
    use_cache: bool
    dependencies: tuple[_Plan, ...]
    params: tuple[_Param, ...]
    body: Any  # the single, non-embedded body field, or None
    request_names: tuple[str, ...]  # Request / HTTPConnection parameters
    response_name: str | None

    async def solve(self, request: Request, body: Any, sub_response: Response,
                    cache: dict[Any, Any], errors: list[Any]) -> dict[str, Any]:
        """The callable's arguments; validation errors go to `errors` (FastAPI's order:
        dependencies first, then path, query, header and cookie parameters, then the body).
        `cache` is the request's memo: dependency results by callable (FastAPI's
        per-request cache) and the header map."""
        values: dict[str, Any] = {}
        for dep in self.dependencies:
            own: list[Any] = []
            dep_values = await dep.solve(request, body, sub_response, cache, own)
            if own:
                errors.extend(own)
                continue
            solved = cache.get(dep.call, _MISSING) if dep.use_cache else _MISSING
            if solved is _MISSING:
                solved = await dep.call(**dep_values)
                cache.setdefault(dep.call, solved)
            if dep.name is not None:
                values[dep.name] = solved
        for param in self.params:
            param.resolve(request, values, errors, cache)
        if self.body is not None:
            self._resolve_body(body, values, errors)
        for name in self.request_names:
            values[name] = request
        if self.response_name is not None:
            values[self.response_name] = sub_response
        return values

    def _resolve_body(self, body: Any, values: dict[str, Any], errors: list[Any]) -> None:
        field = self.body
        loc = ("body",)
        if body is _MISSING:
            if field.field_info.is_required():
                errors.append(get_missing_field_error(loc=loc))
                return
            body = deepcopy(field.default)
            if not field.field_info.validate_default:
                values[field.name] = body
                return
        validated, errs = field.validate(body, values, loc=loc)
        if errs:
            errors.extend(errs)
        else:
            values[field.name] = validated


def _is_coroutine_callable(call: Any) -> bool:
    if inspect.isclass(call):
        return False
    if inspect.iscoroutinefunction(call):
        return True
    dunder = getattr(call, "__call__", None)  # noqa: B004 - an instance's own method
    return dunder is not None and inspect.iscoroutinefunction(dunder)


def _param(field: Any) -> _Param:
    info = field.field_info
    if _get_param_model(field) is not None or any(type(m) is Json for m in info.metadata):
        raise _Unsupported("parameter model or Json parameter")
    source = info.in_.value
    keys = tuple(dict.fromkeys(key for _, key in _get_param_aliases(field)))
    annotation_is_list = _sequence_annotation(info.annotation)
    required = info.is_required()
    default = None if required else field.default
    return _Param(name=field.name, source=source, keys=keys, loc_kind=source,
                  sequence=annotation_is_list and source in ("query", "header"),
                  required=required, default=default,
                  copy_default=not isinstance(default, _IMMUTABLE_DEFAULTS),
                  validate_default=bool(info.validate_default), field=field)


def _sequence_annotation(annotation: Any) -> bool:
    return bool(field_annotation_is_sequence(annotation))


def _plan(dependant: Dependant, body_field: Any) -> _Plan:
    call = dependant.call
    if call is None or not _is_coroutine_callable(call):
        raise _Unsupported("not a coroutine")
    if inspect.isasyncgenfunction(call) or inspect.isgeneratorfunction(call):
        raise _Unsupported("generator dependency")
    if (dependant.background_tasks_param_name or dependant.security_scopes_param_name
            or dependant.websocket_param_name or dependant.own_oauth_scopes
            or dependant.parent_oauth_scopes or getattr(dependant, "concurrency", None)):
        raise _Unsupported("background tasks, scopes, websockets or concurrency limits")
    params_ = [_param(f) for f in (*dependant.path_params, *dependant.query_params,
                                   *dependant.header_params, *dependant.cookie_params)]
    body = None
    if dependant.body_params:
        if (len(dependant.body_params) != 1 or body_field is None
                or dependant.body_params[0] is not body_field):
            raise _Unsupported("body shape")
        body = body_field
    return _Plan(
        call=call, name=dependant.name, use_cache=dependant.use_cache,
        dependencies=tuple(_plan(d, body_field) for d in dependant.dependencies),
        params=tuple(params_), body=body,
        request_names=tuple(n for n in (dependant.request_param_name,
                                         dependant.http_connection_param_name) if n),
        response_name=dependant.response_param_name)


def _json_content_type(value: str | None, strict: bool) -> bool:
    """FastAPI's test (an `application/json` or `application/*+json` media type; with no
    header at all, JSON only when the route is not strict), without building an
    `email.message.Message` per request."""
    if not value:
        return not strict
    media = value.split(";", 1)[0].strip().lower()
    main, slash, sub = media.partition("/")
    return bool(slash) and main == "application" and (sub == "json" or sub.endswith("+json"))


class CompiledRoute(APIRoute):
    """An APIRoute whose requests run a precomputed plan (module docstring)."""

    planned: bool = False

    def get_route_handler(self) -> Handler:
        standard = super().get_route_handler()
        try:
            handler = self._planned_handler(standard)
        except _Unsupported:
            self.planned = False
            return standard
        self.planned = True
        return handler

    def _planned_handler(self, standard: Handler) -> Handler:
        if _get_param_aliases is None or get_telemetry_data is None:
            raise _Unsupported("FastAPI internals changed")
        if (not isinstance(self.response_class, DefaultPlaceholder)
                or getattr(self, "is_json_stream", False)
                or getattr(self, "stream_item_field", None) is not None
                or getattr(self, "_embed_body_fields", True)
                or getattr(self, "max_body_size", None) is not None):
            raise _Unsupported("response class, stream, embedded body or body limit")
        if self.body_field is not None and isinstance(self.body_field.field_info,
                                                      params.Form):
            raise _Unsupported("form body")
        plan = _plan(self.dependant, self.body_field)
        if plan.name is not None:
            raise _Unsupported("named endpoint")
        strict = self.strict_content_type
        strict_json = strict.value if isinstance(strict, DefaultPlaceholder) else strict
        response_field = self.response_field
        status_code = self.status_code
        include, exclude = self.response_model_include, self.response_model_exclude
        by_alias, exclude_unset = self.response_model_by_alias, self.response_model_exclude_unset
        exclude_defaults = self.response_model_exclude_defaults
        exclude_none = self.response_model_exclude_none
        overrides = self.dependency_overrides_provider
        has_body = plan.body is not None or _any_body(plan)
        default_class = self.response_class.value

        async def handler(request: Request) -> Response:
            # The same route object can serve apps with the setting on and off (routers
            # are module-level): the app that received the request decides.
            if not getattr(request.scope["app"].state, "compiled_routes", True) \
                    or (overrides is not None
                        and getattr(overrides, "dependency_overrides", None)) \
                    or get_telemetry_data() is not None:
                return await standard(request)
            body: Any = _MISSING
            if has_body:
                body = await _read_body(request, strict_json)
            sub_response = Response()
            del sub_response.headers["content-length"]
            sub_response.status_code = None  # type: ignore[assignment]
            errors: list[Any] = []
            values = await plan.solve(request, body, sub_response, {}, errors)
            if errors:
                raise RequestValidationError(errors, body=None if body is _MISSING else body)
            raw = await plan.call(**values)
            if isinstance(raw, Response):
                return raw
            args: dict[str, Any] = {"background": None}
            chosen = status_code if status_code else sub_response.status_code
            if chosen is not None:
                args["status_code"] = chosen
            if sub_response.status_code:
                args["status_code"] = sub_response.status_code
            response: Response
            if response_field is not None:
                value, errs = response_field.validate(raw, {}, loc=("response",))
                if errs:
                    raise ResponseValidationError(errors=errs, body=raw)
                content = response_field.serialize_json(
                    value, include=include, exclude=exclude, by_alias=by_alias,
                    exclude_unset=exclude_unset, exclude_defaults=exclude_defaults,
                    exclude_none=exclude_none)
                response = Response(content=content, media_type="application/json", **args)
            else:
                response = default_class(jsonable_encoder(raw), **args)
            if not is_body_allowed_for_status_code(response.status_code):
                response.body = b""
            response.headers.raw.extend(sub_response.headers.raw)
            return response

        return handler


def _any_body(plan: _Plan) -> bool:
    return any(d.body is not None or _any_body(d) for d in plan.dependencies)


async def _read_body(request: Request, strict_json: bool) -> Any:
    """The request body as FastAPI hands it to the body field: parsed JSON for a JSON
    media type, else the raw bytes; missing when empty."""
    try:
        raw = await request.body()
        if not raw:
            return _MISSING
        if _json_content_type(request.headers.get("content-type"), strict_json):
            return await request.json()
        return raw
    except json.JSONDecodeError as exc:
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error",
              "input": {}, "ctx": {"error": exc.msg}}], body=exc.doc) from exc
    except HTTPException:
        raise
    except Exception as exc:
        raise HTTPException(status_code=400,
                            detail="There was an error parsing the body") from exc


def planned_routes(app: Any) -> list[str]:
    """`METHOD path` of every route of `app` served by a plan (for tests and the runbook):
    none while the app's `compiled_routes` setting is off."""
    if not getattr(app.state, "compiled_routes", True):
        return []
    return [f"{method} {c.path}" for c in iter_route_contexts(app.router.routes)
            if isinstance(c.original_route, CompiledRoute) and c.original_route.planned
            for method in sorted(c.methods or ())]


def service_router(**kwargs: Any) -> APIRouter:
    """An APIRouter whose path operations are `CompiledRoute`s: how a service declares
    its routers. Each request still goes to FastAPI's own handler when the receiving
    app's `compiled_routes` setting is off."""
    return APIRouter(route_class=CompiledRoute, **kwargs)

