"""vault API under /v1/vault (filled in by the vault domain)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/vault", tags=["vault"])
