"""Legacy vault paths from contract.md (filled in by the vault domain)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["legacy"])
