"""`compiled_routes` reads FastAPI private names (checked against FastAPI 0.165). An
upgrade that moves one must fail here, naming it, rather than silently send every route
back to FastAPI's own handler (or, worse, plan a route wrongly)."""

from __future__ import annotations

import importlib

import fastapi
import pytest
from fastapi.routing import APIRoute

from unison_shared.compiled_routes import CompiledRoute, planned_routes
from unison_shared.database import DbConn

PRIVATE_FUNCTIONS = [
    ("fastapi.dependencies.utils", "_get_param_aliases"),
    ("fastapi.dependencies.utils", "_get_param_model"),
    ("fastapi.telemetry._api", "get_telemetry_data"),
    ("fastapi._compat", "field_annotation_is_sequence"),
    ("fastapi._compat", "get_missing_field_error"),
]


def test_fastapi_is_the_pinned_minor_version():
    assert fastapi.__version__.startswith("0.165."), (
        f"FastAPI {fastapi.__version__}: re-check the private names compiled_routes.py "
        "uses against this version, then move the pin in shared/pyproject.toml")


@pytest.mark.parametrize(("module", "name"), PRIVATE_FUNCTIONS,
                         ids=[f"{m}.{n}" for m, n in PRIVATE_FUNCTIONS])
def test_each_private_function_is_still_there(module, name):
    found = getattr(importlib.import_module(module), name, None)
    assert callable(found), f"FastAPI moved {module}.{name}: compiled_routes.py needs it"


def test_api_route_still_records_whether_bodies_are_embedded():
    async def endpoint() -> None:
        return None

    route = APIRoute("/x", endpoint)
    assert isinstance(getattr(route, "_embed_body_fields", None), bool), (
        "FastAPI moved APIRoute._embed_body_fields: compiled_routes.py needs it")


async def get(key: str) -> dict[str, str]:
    return {"key": key}


async def with_db(conn: DbConn) -> None:
    return None


def test_plain_routes_are_planned_by_the_pinned_version():
    """The names being present is not enough: they must still do the job (planning
    falls back silently when one misbehaves)."""
    app = fastapi.FastAPI()
    app.router.route_class = CompiledRoute
    app.add_api_route("/v1/kv/{key}", get)
    app.add_api_route("/v1/db", with_db)
    # A yield dependency keeps FastAPI's handler; a plain route is planned.
    assert set(planned_routes(app)) == {"GET /v1/kv/{key}"}
