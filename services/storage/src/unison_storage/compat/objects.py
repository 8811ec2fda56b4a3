"""Legacy objects paths from contract.md (filled in by the objects domain)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["legacy"])
