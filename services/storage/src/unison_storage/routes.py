"""Every router the storage service serves, in the order requests are matched: the hot
`/v1` routers first, the legacy paths after (a request is tried against each route in
turn, so a route registered late pays for every route before it)."""

from __future__ import annotations

from .artifacts import router as artifacts
from .audit import router as audit
from .cache import router as cache
from .compat import audit as legacy_audit
from .compat import cortex, cortex_records
from .compat import kv as legacy_kv
from .compat import memory as legacy_memory
from .compat import objects as legacy_objects
from .compat import vault as legacy_vault
from .evals import router as evals
from .files import router as files
from .kv import router as kv
from .memory import router as memory
from .messages import router as messages
from .metrics import router as metrics
from .objects import router as objects
from .persons import router as persons
from .retention import router as retention
from .state import router as state
from .statistics import router as statistics
from .threads import router as threads
from .traces import router as traces
from .vault import router as vault
from .vectors import router as vectors
from .workflows import router as workflows

ROUTERS = [m.router for m in (kv, memory, vault, audit, objects, threads, messages, state,
                              artifacts, metrics, cache, vectors, files, traces, evals,
                              workflows, retention, statistics, persons, legacy_kv, legacy_memory,
                              legacy_vault, legacy_audit, legacy_objects, cortex,
                              cortex_records)]
