"""Vault rules (placeholder until the vault domain lands)."""

from __future__ import annotations

from ..audit.service import AuditService
from ..database import Database
from ..keys.service import DataKeyService


class VaultService:
    def __init__(self, db: Database, keys: DataKeyService, audit: AuditService,
                 max_versions: int) -> None:
        self.db = db
        self.keys = keys
        self.audit = audit
        self.max_versions = max_versions
