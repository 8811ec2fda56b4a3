"""Every router the storage service serves: the /v1 API and the legacy paths.

Included through unison_shared.routing.include_router: their path operations become plain
routes of the app, which the route index dispatches without rescanning a router.
"""

from __future__ import annotations

from fastapi import FastAPI

from unison_shared.routing import include_router

from . import whoami
from .audit import router as audit
from .compat import audit as legacy_audit
from .compat import kv as legacy_kv
from .compat import memory as legacy_memory
from .compat import objects as legacy_objects
from .compat import vault as legacy_vault
from .kv import router as kv
from .memory import router as memory
from .objects import router as objects
from .vault import router as vault


def include_routes(app: FastAPI) -> None:
    for module in (kv, memory, vault, audit, objects, whoami):
        include_router(app, module.router)
    for legacy in (legacy_kv, legacy_memory, legacy_vault, legacy_audit, legacy_objects):
        include_router(app, legacy.router)
