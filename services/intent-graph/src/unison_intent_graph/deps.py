"""Dependencies of the routers: the caller's scope and the app's services."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from unison_shared.auth import RequestContext, authenticated

from .wiring import Services


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


Ctx = Annotated[RequestContext, Depends(authenticated)]
Svc = Annotated[Services, Depends(_services)]
