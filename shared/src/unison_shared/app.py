"""The pieces every service's `create_app(settings)` is built from."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from fastapi import FastAPI

from .auth import TokenVerifier
from .compiled_routes import CompiledRoute
from .errors import install_error_handlers
from .health import Check, ReadinessCheck, health_router
from .limits import BodyLimitMiddleware
from .logging import configure_logging
from .observability import Metrics, ObservabilityMiddleware
from .routing import include_router, install_route_index
from .settings import ServiceSettings

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_service_app(settings: ServiceSettings, *, title: str, service_label: str,
                       audience: str, lifespan: Lifespan | None = None,
                       streaming_routes: frozenset[tuple[str, str]] = frozenset()
                       ) -> FastAPI:
    """A FastAPI app with logging, errors, auth verifier, metrics and health wired in.

    The service adds its routers and readiness checks; its lifespan owns the engine,
    Redis client and other per-process resources. `streaming_routes` ((method, path)
    pairs) stream their bodies and are exempt from the request body cap.
    """
    configure_logging(service_label, settings.log_level)
    otel = settings.otel_telemetry
    app = FastAPI(title=title, lifespan=lifespan,
                  telemetry={"tracing": otel, "metrics": otel, "logs": otel})
    # Path operations resolve their parameters from a plan built once per route
    # (compiled_routes.py); routers flattened by routing.include_router inherit it.
    app.router.route_class = CompiledRoute
    app.state.settings = settings
    app.state.metrics = Metrics(service_label)
    app.state.verifier = TokenVerifier(settings.auth, audience=audience)
    app.state.readiness_checks = {}
    app.state.streaming_routes = streaming_routes
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_request_body_bytes,
                       streaming=streaming_routes)
    app.add_middleware(ObservabilityMiddleware, metrics=app.state.metrics,
                       access_log=settings.access_log)
    # Requests are matched against the routes that can match their path (routing.py);
    # routers included through routing.include_router dispatch without a second scan.
    install_route_index(app)
    include_router(app, health_router(service_label))
    return app


def add_readiness_check(app: FastAPI, name: str, check: ReadinessCheck,
                        critical: bool = True) -> None:
    app.state.readiness_checks[name] = Check(check, critical)


