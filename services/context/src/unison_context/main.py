"""The context service: `create_app(settings)`; serve with `uvicorn --factory`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from unison_shared.app import create_service_app
from unison_shared.crypto import load_keyring
from unison_shared.settings import Environment

from .persons.eviction import listening
from .routes import ROUTERS
from .settings import ContextSettings
from .wiring import build_services

SERVICE_LABEL = "unison-context"


def create_app(settings: ContextSettings | None = None) -> FastAPI:
    settings = settings or ContextSettings()
    keyring = load_keyring(
        settings.kek_keyring.get_secret_value() if settings.kek_keyring else None,
        settings.kek_keyring_file, settings.state_dir,
        allow_generate=settings.environment is not Environment.PRODUCTION,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.services = build_services(settings, keyring)
        async with listening(settings.database_url.get_secret_value(),
                             app.state.services.keys) as listener:
            app.state.key_eviction = listener
            yield

    return create_service_app(settings, title="Unison context", service_label=SERVICE_LABEL,
                              audience="context", routers=ROUTERS, postgres=True,
                              lifespan=lifespan)
