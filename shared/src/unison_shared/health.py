"""Liveness and readiness that tell the truth.

`/healthz` says the process serves HTTP. `/readyz` runs every registered dependency check
with a short timeout and answers 503 naming each failing dependency.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .compiled_routes import service_router

ReadinessCheck = Callable[[], Awaitable[None]]
CHECK_TIMEOUT = 2.0


class Check:
    """A readiness check; a non-critical one (a cache) is reported but never fails readiness."""

    def __init__(self, run: ReadinessCheck, critical: bool = True) -> None:
        self.run = run
        self.critical = critical


async def _run_check(name: str, check: ReadinessCheck) -> tuple[str, str | None]:
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT)
    except TimeoutError:
        return name, "timed out"
    except Exception as exc:  # a readiness probe reports any failure, it never raises
        return name, type(exc).__name__
    return name, None


def health_router(service_label: str) -> APIRouter:
    router = service_router(tags=["health"])

    async def live() -> dict[str, str]:
        return {"status": "ok", "service": service_label}

    async def ready(request: Request) -> JSONResponse:
        checks: dict[str, Check] = request.app.state.readiness_checks
        started = time.perf_counter()
        results = await asyncio.gather(*(_run_check(n, c.run) for n, c in checks.items()))
        failing = {name: err for name, err in results
                   if err is not None and checks[name].critical}
        body: dict[str, object] = {
            "ready": not failing,
            # The legacy readiness shape (contract.md): `status` beside `ready`.
            "status": "ok" if not failing else "unavailable",
            "service": service_label,
            "checks": {name: ("ok" if err is None else f"failing: {err}")
                       for name, err in results},
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        }
        if failing:
            body["failing"] = sorted(failing)
        return JSONResponse(body, status_code=200 if not failing else 503)

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(request.app.state.metrics.registry),
                        media_type=CONTENT_TYPE_LATEST)

    for path in ("/health", "/healthz"):
        router.add_api_route(path, live, methods=["GET"], include_in_schema=path == "/healthz")
    for path in ("/ready", "/readyz"):
        router.add_api_route(path, ready, methods=["GET"], include_in_schema=path == "/readyz")
    router.add_api_route("/metrics", metrics, methods=["GET"], include_in_schema=False)
    return router
