"""Dashboard rules: `cards` must be a list (non-object cards dropped, at most 100 kept),
`preferences` an object; replace and merge-patch, sealed under the person's data key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from unison_shared.auth import RequestContext
from unison_shared.errors import ValidationFailed

from ..documents.service import Document, DocumentStore
from ..keys.service import PersonKeys
from ..profiles.rules import merge_patch
from ..settings import ContextOptions

MAX_CARDS = 100


class DashboardInvalid(ValidationFailed):
    """legacy codes: invalid-dashboard, invalid-dashboard-cards."""

    def __init__(self, code: str, field_name: str, reason: str) -> None:
        super().__init__(f"{field_name}: {reason}", field=field_name, reason=reason)
        self.legacy_code = code
        self.field = field_name


def normalize(dashboard: Any) -> dict[str, Any]:
    if not isinstance(dashboard, dict):
        raise DashboardInvalid("invalid-dashboard", "dashboard", "must be a JSON object")
    out = dict(dashboard)
    cards = out.get("cards")
    if cards is not None:
        if not isinstance(cards, list):
            raise DashboardInvalid("invalid-dashboard-cards", "dashboard.cards",
                                   "must be a list")
        out["cards"] = [c for c in cards if isinstance(c, dict)][:MAX_CARDS]
    prefs = out.get("preferences")
    if prefs is not None and not isinstance(prefs, dict):
        raise DashboardInvalid("invalid-dashboard", "dashboard.preferences",
                               "must be a JSON object")
    return out


class DashboardService:
    def __init__(self, keys: PersonKeys, opts: ContextOptions) -> None:
        self.docs = DocumentStore(keys, "dashboards", "dashboard", opts.max_json_bytes)

    async def get(self, pg: asyncpg.Connection, ctx: RequestContext) -> Document | None:
        return await self.docs.get(pg, ctx)

    async def replace(self, pg: asyncpg.Connection, ctx: RequestContext, dashboard: Any,
                      expected: int | None = None, at: datetime | None = None) -> Document:
        value = normalize(dashboard)
        current = await self.docs.get(pg, ctx, lock=True)
        self.docs.check(current, expected)
        return await self.docs.write(pg, ctx, value, current, "dashboard", at=at)

    async def patch(self, pg: asyncpg.Connection, ctx: RequestContext, patch: Any,
                    expected: int | None = None) -> Document:
        if not isinstance(patch, dict):
            raise DashboardInvalid("invalid-dashboard", "dashboard",
                                   "a merge patch must be a JSON object")
        current = await self.docs.get(pg, ctx, lock=True)
        self.docs.check(current, expected)
        value = normalize(merge_patch(current.value if current else {}, patch))
        return await self.docs.write(pg, ctx, value, current, "dashboard")
