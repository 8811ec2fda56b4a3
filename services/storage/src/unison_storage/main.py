"""The storage service: `create_app(settings)`; serve with `uvicorn --factory`."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from unison_shared.app import add_readiness_check, create_service_app
from unison_shared.crypto import load_keyring
from unison_shared.settings import Environment

from .audit.signing import load_signing_key
from .routes import ROUTERS
from .settings import StorageSettings
from .wiring import build_services

SERVICE_LABEL = "unison-storage"


class StreamingRoutes(frozenset[tuple[str, str]]):
    """The (method, path) pairs whose bodies stream (exempt from the body cap and from
    the identity rule's JSON parse): exact pairs, plus a PUT of any path under a prefix.
    The kit matches these by `in` on the request's exact (method, path), and a file's
    path is a path parameter, so membership, not the stored pairs, says "under
    /v1/files/"."""

    prefixes: tuple[tuple[str, str], ...] = (("PUT", "/v1/files/"),)

    def __contains__(self, item: object) -> bool:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], str) and any(
                item[0] == method and item[1].startswith(prefix)
                for method, prefix in self.prefixes):
            return True
        return super().__contains__(item)


# Uploads stream to the object store and enforce their own size limits while streaming.
STREAMING_ROUTES = StreamingRoutes({("POST", "/v1/objects")})


def create_app(settings: StorageSettings | None = None) -> FastAPI:
    settings = settings or StorageSettings()
    generate = settings.environment is not Environment.PRODUCTION
    keyring = load_keyring(
        settings.kek_keyring.get_secret_value() if settings.kek_keyring else None,
        settings.kek_keyring_file, settings.state_dir, allow_generate=generate)
    opts = settings.storage
    signing_key = load_signing_key(
        opts.audit_signing_key.get_secret_value() if opts.audit_signing_key else None,
        opts.audit_signing_key_file, settings.state_dir, allow_generate=generate)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        """What storage adds to the kit's lifespan (database, Redis): the object store,
        the domain services, the sweeper and the scheduled reconcile."""
        from .audit import checkpoints
        from .objects import reconcile
        from .objects.backends import create_object_store
        from .retention.service import MaintenanceMetrics
        from .retention.service import run_schedule as run_maintenance
        from .statistics.gauges import TableGauges, run_gauges
        from .sweeper import SweepMetrics, run_sweeper
        from .workflows.timers import TimerMetrics, run_timers

        db = app.state.database
        store = create_object_store(settings)
        app.state.services = build_services(settings, db, app.state.redis, keyring, store,
                                            signing_key)
        add_readiness_check(app, "object_store", store.check)

        # Everything allocated so far lives as long as the process: move it out of the
        # collector's sight, so full collections stop rescanning it under load (they
        # showed up as the p99 tail in docs/performance.md).
        gc.freeze()
        # Named "background:*": operators see them in task dumps, and tests tell their
        # statements from the requests'.
        background = [asyncio.create_task(run_sweeper(app.state.services, settings.storage,
                                                      SweepMetrics(app.state.metrics)),
                                          name="background:sweeper")]
        if opts.audit_checkpoint_interval_seconds > 0:
            background.append(asyncio.create_task(checkpoints.run_schedule(
                app.state.services.checkpoints, opts.audit_checkpoint_interval_seconds),
                name="background:audit-checkpoints"))
        background.append(asyncio.create_task(run_timers(
            db, opts.workflow_timer_interval_seconds, opts.workflow_timer_batch_size,
            TimerMetrics(app.state.metrics)), name="background:workflow-timers"))
        if opts.retention_interval_seconds > 0:
            background.append(asyncio.create_task(run_maintenance(
                app.state.services.retention, opts.retention_interval_seconds,
                MaintenanceMetrics(app.state.metrics)), name="background:retention"))
        if opts.statistics_interval_seconds > 0:
            background.append(asyncio.create_task(run_gauges(
                db, opts.statistics_interval_seconds, TableGauges(app.state.metrics)),
                name="background:statistics"))
        if settings.storage.reconcile_interval_seconds > 0:
            background.append(asyncio.create_task(reconcile.run_schedule(
                db, store, settings.storage, reconcile.ReconcileMetrics(app.state.metrics)),
                name="background:reconcile"))
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

    return create_service_app(settings, title="Unison storage", service_label=SERVICE_LABEL,
                              audience="storage", routers=ROUTERS, postgres=True, redis=True,
                              lifespan=lifespan, streaming_routes=STREAMING_ROUTES)
