"""Working memory rules (placeholder until the memory domain lands)."""

from __future__ import annotations

from ..database import Database
from ..settings import StorageOptions


class MemoryService:
    def __init__(self, db: Database, options: StorageOptions) -> None:
        self.db = db
        self.options = options
