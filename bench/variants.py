"""Experimental app factories for A/B runs (`python -m bench.run --app ...`).

`async_services`: the same app, with the `Svc` dependency declared `async def`.
FastAPI runs a plain `def` dependency in the thread pool, so the shipped sync
`deps._services` costs every request a thread hop (profiles show
`run_sync_in_worker_thread` and `threading.Condition` wait/notify). The factory
patches `deps.Svc` before the routers import it, so nothing else changes.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request


def create_app_async_services() -> FastAPI:
    from unison_storage import deps

    async def _services(request: Request) -> Any:
        return request.app.state.services

    from unison_storage.wiring import Services

    setattr(deps, "Svc", Annotated[Services, Depends(_services)])  # noqa: B010 - a patch
    from unison_storage.main import create_app

    return create_app()
