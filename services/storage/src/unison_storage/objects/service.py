"""Object rules (placeholder until the objects domain lands)."""

from __future__ import annotations

from ..database import Database
from ..settings import StorageOptions
from .store import ObjectStore


class ObjectService:
    def __init__(self, db: Database, store: ObjectStore, options: StorageOptions,
                 presign_key: bytes) -> None:
        self.db = db
        self.store = store
        self.options = options
        self.presign_key = presign_key
