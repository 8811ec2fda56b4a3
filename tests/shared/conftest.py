"""A minimal service built from the shared pieces, for testing them in isolation."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel

from unison_shared.app import add_readiness_check, create_service_app
from unison_shared.auth import RequestContext, authenticated
from unison_shared.errors import Conflict, NotFound
from unison_shared.settings import AuthSettings, Environment, ServiceSettings
from unison_shared.testing import TEST_SECRET, environ

SECRET = "shared-tests-secret-long-enough-for-hs256"


class Body(BaseModel):
    name: str
    count: int = 0


def build_app(auth: AuthSettings | None = None,
              checks: dict[str, Callable[[], Any]] | None = None,
              **settings_overrides: Any) -> FastAPI:
    settings = ServiceSettings(
        environment=Environment.TEST,
        auth=auth or AuthSettings(hs256_secret=SECRET, accept_service_tokens=True),
        **settings_overrides,
    )
    app = create_service_app(settings, title="t", service_label="unison-test",
                             audience="storage")
    router = APIRouter()

    @router.get("/v1/people/{person_id}/things")
    async def person_things(person_id: str,
                            ctx: RequestContext = Depends(authenticated)) -> dict[str, str]:
        return {"tenant": ctx.tenant_id, "person": ctx.person_id}

    @router.post("/v1/things")
    async def make_thing(body: Body,
                         ctx: RequestContext = Depends(authenticated)) -> dict[str, Any]:
        return {"person": ctx.person_id, "name": body.name}

    @router.post("/legacy/things")
    async def legacy_thing(body: Body,
                           ctx: RequestContext = Depends(authenticated)) -> dict[str, Any]:
        return {"ok": True}

    @router.get("/v1/conflict")
    async def conflict(ctx: RequestContext = Depends(authenticated)) -> None:
        raise Conflict("the thing exists")

    @router.get("/v1/boom")
    async def boom(ctx: RequestContext = Depends(authenticated)) -> None:
        raise RuntimeError("secret-value-in-exception")

    app.include_router(router)
    for name, check in (checks or {}).items():
        add_readiness_check(app, name, check)
    return app


@pytest.fixture
async def shared_client() -> AsyncIterator[httpx.AsyncClient]:
    app = build_app()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as c:
        yield c


class _NoServices:
    def __getattr__(self, name: str) -> Any:
        raise NotFound("no services in routing tests")


def storage_app_without_services(state: Path, compiled_routes: bool = True) -> FastAPI:
    """The storage app as `create_app` builds it, without its lifespan: the domain
    services are a stand-in whose every use is a NotFound, so a request goes through
    routing, authentication, validation, the endpoint and the error handlers, never a
    database."""
    from unison_storage.main import create_app

    env = {"UNISON_ENVIRONMENT": "test", "UNISON_AUTH_HS256_SECRET": TEST_SECRET,
           "UNISON_DATABASE_URL": "postgresql+asyncpg://u:p@127.0.0.1:1/none",
           "UNISON_STATE_DIR": str(state), "UNISON_LOG_LEVEL": "WARNING",
           "UNISON_ACCESS_LOG": "false",
           "UNISON_COMPILED_ROUTES": "true" if compiled_routes else "false"}
    with environ(env):
        app = create_app()
    app.state.services = _NoServices()
    return app


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> tuple[FastAPI, FastAPI]:
    """(FastAPI's handlers, planned handlers): the storage app built twice from the same
    code, with UNISON_COMPILED_ROUTES off and on."""
    state = tmp_path_factory.mktemp("storage-state")
    return (storage_app_without_services(state, compiled_routes=False),
            storage_app_without_services(state, compiled_routes=True))


@pytest.fixture(scope="session")
def storage_db_url(migrated_database: Callable[[str, str], str]) -> str:
    """A database with the storage schema, for the kit's database tests (its tables are
    a real schema with row-level security to test against)."""
    return migrated_database("shared_test", "storage")
