"""Every router the storage service serves: the /v1 API and the legacy paths."""

from __future__ import annotations

from fastapi import FastAPI

from .compat import kv as legacy_kv
from .kv import router as kv


def include_routes(app: FastAPI) -> None:
    app.include_router(kv.router)
    app.include_router(legacy_kv.router)
