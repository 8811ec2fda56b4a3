"""A minimal service built from the shared pieces, for testing them in isolation."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel

from unison_shared.app import add_readiness_check, create_service_app
from unison_shared.auth import RequestContext, authenticated
from unison_shared.errors import Conflict
from unison_shared.settings import AuthSettings, Environment, ServiceSettings

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
