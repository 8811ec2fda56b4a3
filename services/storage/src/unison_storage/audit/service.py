"""Audit rules (placeholder until the audit domain lands)."""

from __future__ import annotations

from ..database import Database


class AuditService:
    def __init__(self, db: Database) -> None:
        self.db = db
