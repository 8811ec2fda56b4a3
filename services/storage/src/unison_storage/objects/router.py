"""objects API under /v1/objects (filled in by the objects domain)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/objects", tags=["objects"])
