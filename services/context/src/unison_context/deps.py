"""FastAPI dependencies: the authenticated caller and the per-process domain services."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from unison_shared.auth import RequestContext, authenticated

from .wiring import Services

Ctx = Annotated[RequestContext, Depends(authenticated)]


async def _services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


Svc = Annotated[Services, Depends(_services)]
