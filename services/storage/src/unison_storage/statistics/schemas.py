"""Statistics shapes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ClassStats(BaseModel):
    rows: int
    bytes: int = Field(description="the rows' stored size; for objects, the payload bytes")


class Statistics(BaseModel):
    scope: Literal["tenant", "all"]
    tenant_id: str | None
    tenants: int = Field(description="tenants with records (1 or 0 in tenant scope)")
    classes: dict[str, ClassStats]
    workflows_by_status: dict[str, int]
    bytes_total: int
