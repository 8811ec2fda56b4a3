"""The FastAPI dependency that authenticates a request and applies the identity rule:
any `person_id`/`user_id` in the path, the query or a JSON body must be the caller's."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..errors import Forbidden, Unauthorized
from .principal import Principal

_IDENTITY_KEYS = ("person_id", "user_id")
# Deeper than any body the app lets through (settings.max_json_depth, at most 200): the
# body limit refuses deeper JSON before it is parsed, so this scan sees all of it.
_MAX_DEPTH = 256


@dataclass(frozen=True)
class RequestContext:
    """The caller and the scope every query of this request runs in."""

    principal: Principal
    tenant_id: str
    person_id: str  # "" for tenant-level callers (workloads not acting for anyone)


def _collect_ids(value: Any, found: set[str], depth: int = 0) -> None:
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if key in _IDENTITY_KEYS and isinstance(item, str | int) and item != "":
                found.add(str(item))
            _collect_ids(item, found, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _collect_ids(item, found, depth + 1)


def _body_is_a_request(request: Request) -> bool:
    """A JSON body is a request that may name people, except on streaming upload routes,
    whose body is an opaque payload: neither scanned nor buffered. (Every other body is
    bounded by the app's request body cap before it gets here.)"""
    if request.method not in ("POST", "PUT", "PATCH"):
        return False
    streaming: frozenset[tuple[str, str]] = getattr(request.app.state, "streaming_routes",
                                                    frozenset())
    return (request.method, request.scope["path"]) not in streaming


async def _named_persons(request: Request) -> set[str]:
    found: set[str] = set()
    path_params = request.path_params
    has_query = bool(request.scope.get("query_string"))  # parsed only when there is one
    for key in _IDENTITY_KEYS:
        if key in path_params:
            found.add(str(path_params[key]))
        if has_query:
            found.update(request.query_params.getlist(key))
    if _body_is_a_request(request) and \
            request.headers.get("content-type", "").startswith("application/json"):
        # Starlette keeps the parsed body on the request: a route with a body model has
        # parsed it already, so it is not parsed twice. An empty or malformed body is
        # reported by the route's own validation.
        with contextlib.suppress(ValueError, RecursionError):  # too deep for json
            _collect_ids(await request.json(), found)
    return found


# Declares the scheme in the OpenAPI document (the Authorize button of /docs); the header
# itself is read below so missing and malformed tokens get the contract's 401/403.
_bearer_scheme = HTTPBearer(auto_error=False, description="UnisonOS principal JWT")


async def authenticated(
    request: Request,
    _declared: HTTPAuthorizationCredentials | None = Security(_bearer_scheme),
) -> RequestContext:
    header = request.headers.get("authorization")
    if not header:
        raise Unauthorized("missing bearer token")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("authorization must be 'Bearer <token>'")
    verifier = request.app.state.verifier
    principal: Principal = await verifier.verify(token.strip())
    named = await _named_persons(request)
    person = principal.person_id or ""
    if named:
        others = named - {principal.person_id}
        if others:
            if not principal.may_act_for_persons:
                raise Forbidden("person_id does not match the token's person")
            if len(named) > 1:
                raise Forbidden("a request may act for one person only")
            person = next(iter(named))
    tenant = principal.household_id
    if not tenant:
        if not principal.is_service:
            raise Forbidden("token names no household")
        tenant = request.app.state.settings.auth.service_tenant
    ctx = RequestContext(principal=principal, tenant_id=tenant, person_id=person)
    request.state.ctx = ctx
    return ctx


def require_operator(ctx: RequestContext) -> RequestContext:
    """The admin routes (person erasure and export) are for operator tokens only."""
    if not ctx.principal.is_operator:
        raise Forbidden("this call needs an operator token (scopes persons:act persons:admin)")
    return ctx


def is_own_person(ctx: RequestContext) -> bool:
    """The caller is the person the request is scoped to, with a person token (not a
    service acting for them): only then may a person's secrets leave in an export."""
    p = ctx.principal
    return not p.is_service and p.kind == "person" and bool(ctx.person_id) \
        and p.person_id == ctx.person_id


def require_export_access(ctx: RequestContext, include_secrets: bool) -> None:
    """A person's export: an operator or the person may take it; only the person, with
    their own token, may take their secrets."""
    own = is_own_person(ctx)
    if not (own or ctx.principal.is_operator):
        raise Forbidden("an export needs an operator token or the person's own token")
    if include_secrets and not own:
        raise Forbidden("include_secrets: a person's secrets are exported only to the "
                        "person's own token")
