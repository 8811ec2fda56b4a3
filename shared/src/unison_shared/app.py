"""The service kit: `create_service_app` builds what every service has in common.

A service's `main.py` hands it its settings, its routers and, when it has any, its own
per-process resources and background jobs (`lifespan`); the kit owns the rest: logging,
errors, auth, metrics, health, and the connections the service asks for:

- `postgres=True`: a `Database` (database.py) at `app.state.database`, readiness check
  `postgres` (critical: 503 while PostgreSQL is unreachable);
- `redis=True` (and a `redis_url` setting): a client at `app.state.redis`, readiness
  check `redis` (reported, never failing readiness: Redis is a cache). Without a URL,
  `app.state.redis` is None and the service runs without its cache.

The service's own `lifespan` runs inside the kit's, so it finds those already open.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from .auth import TokenVerifier
from .errors import install_database_error_handlers, install_error_handlers
from .health import Check, ReadinessCheck, health_router
from .identity import whoami_router
from .limits import BodyLimitMiddleware
from .logging import configure_logging
from .observability import Metrics, ObservabilityMiddleware
from .settings import ServiceSettings

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_service_app(settings: ServiceSettings, *, title: str, service_label: str,
                       audience: str, routers: Iterable[APIRouter] = (),
                       postgres: bool = False, redis: bool = False,
                       lifespan: Lifespan | None = None,
                       streaming_routes: frozenset[tuple[str, str]] = frozenset()
                       ) -> FastAPI:
    """A FastAPI app with logging, errors, auth, metrics, health, `/v1/whoami` and the
    asked-for connections wired in. `routers` are included in order: put the hot ones first (a
    request is matched against the routes in order). `streaming_routes` ((method, path)
    pairs) stream their bodies and are exempt from the request body cap."""
    configure_logging(service_label, settings.log_level)
    otel = settings.otel_telemetry
    # The OpenAPI document and the docs page are added after the service's routes (below):
    # FastAPI would otherwise put them first, and every request would try them first.
    app = FastAPI(title=title, lifespan=_kit_lifespan(settings, service_label, postgres,
                                                      redis, lifespan),
                  telemetry={"tracing": otel, "metrics": otel, "logs": otel},
                  openapi_url=None, docs_url=None, redoc_url=None)
    # Routers made with `service_router` resolve each request's parameters from a plan
    # built once per route (compiled_routes.py) while this is on.
    app.state.compiled_routes = settings.compiled_routes
    app.state.settings = settings
    app.state.metrics = Metrics(service_label)
    app.state.verifier = TokenVerifier(settings.auth, audience=audience)
    app.state.readiness_checks = {}
    app.state.streaming_routes = streaming_routes
    app.state.database = None
    app.state.redis = None
    install_error_handlers(app)
    if postgres:
        install_database_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_request_body_bytes,
                       streaming=streaming_routes, max_json_depth=settings.max_json_depth,
                       body_timeout=settings.request_body_timeout_seconds)
    app.add_middleware(ObservabilityMiddleware, metrics=app.state.metrics,
                       access_log=settings.access_log)
    # /v1/whoami first: it is the benchmarks' floor (an authenticated no-op), so it should
    # pay for no route matching before it (a conservative floor).
    app.include_router(whoami_router())
    for router in routers:
        app.include_router(router)
    app.include_router(health_router(service_label))
    _add_docs(app, title)
    return app


def _add_docs(app: FastAPI, title: str) -> None:
    """/openapi.json and /docs (public), the way FastAPI documents serving them yourself."""

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{title} - docs")


def _kit_lifespan(settings: ServiceSettings, service_label: str, postgres: bool,
                  redis: bool, inner: Lifespan | None) -> Lifespan:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = client = None
        try:
            if postgres:
                from .database import Database

                system_url = settings.database_system_url
                database = await Database.open(
                    settings.database_url.get_secret_value(), settings.database_pool_size,
                    settings.database_application_name or service_label,
                    system_url.get_secret_value() if system_url else None)
                app.state.database = database
                database.register_metrics(app.state.metrics.registry)
                add_readiness_check(app, "postgres", database.ping)
            if redis and settings.redis_url:
                from .cache import create_redis

                client = redis_client = create_redis(settings.redis_url,
                                                     app.state.metrics.caches)
                app.state.redis = client

                async def redis_ready() -> None:
                    await redis_client.ping()

                add_readiness_check(app, "redis", redis_ready, critical=False)
            if inner is None:
                yield
            else:
                async with inner(app):
                    yield
        finally:
            if client is not None:
                await client.aclose()
            if database is not None:
                await database.close()

    return lifespan


def add_readiness_check(app: FastAPI, name: str, check: ReadinessCheck,
                        critical: bool = True) -> None:
    app.state.readiness_checks[name] = Check(check, critical)
