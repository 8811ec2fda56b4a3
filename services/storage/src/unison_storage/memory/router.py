"""memory API under /v1/memory (filled in by the memory domain)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/memory", tags=["memory"])
