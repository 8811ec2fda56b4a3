"""Helpers of the workflow tests: a suspend body, and rows read as the system role."""

from __future__ import annotations

from typing import Any

import asyncpg

from .conftest import db_settings

W = "/v1/workflows"


def body(*conditions: dict[str, Any], reason: dict[str, Any] | None = None,
         **more: Any) -> dict[str, Any]:
    return {"workflow_name": "onboarding", "current_step": "wait",
            "context_state": {"step": 3, "token": "ctx-secret-marker"},
            "suspend_reason": reason or {"kind": "manual"},
            "resume_conditions": list(conditions), **more}


async def system_fetch(owner_url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    """Rows as the system role (it sees every tenant), values as parameters."""
    url = db_settings(owner_url)["database_system_url"].replace("+asyncpg", "")
    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()
