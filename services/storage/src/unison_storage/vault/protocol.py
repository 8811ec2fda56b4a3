"""What the vault service needs from its repository on both backends; `repository`
(PostgreSQL) and `repository_sqlite` (development) both provide it, checked by mypy.

Writes differ by backend and are not part of it: PostgreSQL writes optimistically in
autocommit (`repository.write_next` / `repository.create`), SQLite in a transaction
holding the database's write lock (`repository_sqlite.lock_or_create` / `write_version`).
"""

from __future__ import annotations

import uuid
from typing import Protocol

from ..audit.repository import NewEvent
from ..database import StatementConnection
from .repository import SecretRow, VersionRow


class VaultRepository(Protocol):
    async def get_secret(self, conn: StatementConnection, t: str, p: str, name: str,
                         lock: bool = False) -> SecretRow | None: ...

    async def read_audited(self, conn: StatementConnection, t: str, p: str, name: str,
                           version: int | None, event: NewEvent
                           ) -> tuple[SecretRow | None, VersionRow | None]: ...

    async def list_versions(self, conn: StatementConnection, t: str,
                            secret_id: uuid.UUID) -> list[VersionRow]: ...

    async def set_deleted(self, conn: StatementConnection, t: str, p: str, name: str,
                          deleted: bool) -> SecretRow | None: ...

    async def destroy(self, conn: StatementConnection, t: str, secret_id: uuid.UUID,
                      versions: list[int] | None) -> list[int]: ...

    async def list_secrets(self, conn: StatementConnection, t: str, p: str, prefix: str,
                           after: str, limit: int,
                           include_deleted: bool) -> list[SecretRow]: ...
