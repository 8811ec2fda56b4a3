"""What both importers share: the caller identity they act as, JSON cells, progress."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from unison_shared.auth import Principal, RequestContext

Progress = Callable[[str, int | None], None]  # (table, total or None for one step)


def no_progress(table: str, total: int | None) -> None:
    return None


def context_for(tenant: str, person: str) -> RequestContext:
    """The scope an imported row is written in: its household and person."""
    principal = Principal(sub="service-unison-migrate", person_id=person or None,
                          household_id=tenant, kind="workload", is_service=True)
    return RequestContext(principal=principal, tenant_id=tenant, person_id=person)


class CellError(Exception):
    """A legacy cell that cannot be read (bad JSON, wrong type): the row fails."""


def legacy_time(value: Any) -> datetime | None:
    """A legacy epoch-seconds cell as a timestamp (None when absent or unreadable: the
    import time is used then)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (ValueError, OverflowError, OSError):
        return None


def json_cell(value: Any, column: str, default: Any = None) -> Any:
    if value is None:
        return default
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError as exc:
        raise CellError(f"{column} is not JSON") from exc
