"""The storage service: `create_app(settings)`; serve with `uvicorn --factory`."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import text

from unison_shared.app import add_readiness_check, create_service_app
from unison_shared.cache import create_redis
from unison_shared.crypto import load_keyring
from unison_shared.db import create_engine, create_statement_pool
from unison_shared.settings import Environment

from .database import Database
from .routes import include_routes
from .settings import StorageSettings
from .wiring import build_services

SERVICE_LABEL = "unison-storage"
# Uploads stream to the object store and enforce their own size limits while streaming.
STREAMING_ROUTES = frozenset({("POST", "/v1/objects")})


def create_app(settings: StorageSettings | None = None) -> FastAPI:
    settings = settings or StorageSettings()
    keyring = load_keyring(
        settings.kek_keyring.get_secret_value() if settings.kek_keyring else None,
        settings.kek_keyring_file, settings.state_dir,
        allow_generate=settings.environment is not Environment.PRODUCTION,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from .objects import reconcile
        from .objects.store import create_object_store
        from .sweeper import SweepMetrics, run_sweeper

        engine = create_engine(settings.database_url.get_secret_value(),
                               settings.database_pool_size,
                               application_name=settings.database_application_name
                               or SERVICE_LABEL,
                               allow_sqlite=settings.environment is Environment.DEV)
        app_name = settings.database_application_name or SERVICE_LABEL
        # SQLite (dev only) has no statement pool: its handles are engine transactions.
        pool = None if engine.dialect.name == "sqlite" else await create_statement_pool(
            settings.database_url.get_secret_value(), settings.database_pool_size, app_name)
        redis = create_redis(settings.redis_url) if settings.redis_url else None
        store = create_object_store(settings)
        db = Database(engine, pool)
        app.state.services = build_services(settings, db, redis, keyring, store)

        async def database_ready() -> None:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))

        add_readiness_check(app, "sqlite" if db.is_sqlite else "postgres", database_ready)
        add_readiness_check(app, "object_store", store.check)
        if redis is not None:
            async def redis_ready() -> None:
                await redis.ping()
            # Redis is a cache: reported, but never a reason to refuse traffic.
            add_readiness_check(app, "redis", redis_ready, critical=False)

        # Everything allocated so far lives as long as the process: move it out of the
        # collector's sight, so full collections stop rescanning it under load (they
        # showed up as the p99 tail in docs/performance.md).
        gc.freeze()
        background = [asyncio.create_task(run_sweeper(app.state.services, settings.storage,
                                                      SweepMetrics(app.state.metrics)))]
        if settings.storage.reconcile_interval_seconds > 0:
            background.append(asyncio.create_task(reconcile.run_schedule(
                db, store, settings.storage, reconcile.ReconcileMetrics(app.state.metrics))))
        try:
            yield
        finally:
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            close = getattr(store, "close", None)
            if close is not None:
                await close()
            if redis is not None:
                await redis.aclose()
            if pool is not None:
                await pool.close()
            await engine.dispose()

    app = create_service_app(settings, title="Unison storage", service_label=SERVICE_LABEL,
                             audience="storage", lifespan=lifespan,
                             streaming_routes=STREAMING_ROUTES)
    include_routes(app)
    return app
