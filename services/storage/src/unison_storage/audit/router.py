"""audit API under /v1/audit (filled in by the audit domain)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/audit", tags=["audit"])
