"""Legacy audit paths from contract.md (filled in by the audit domain)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["legacy"])
