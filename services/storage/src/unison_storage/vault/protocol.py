"""What the vault service needs from its repository; `repository` (PostgreSQL) and
`repository_sqlite` (development) both provide it, checked by mypy."""

from __future__ import annotations

import uuid
from typing import Protocol

from ..audit.repository import NewEvent
from ..database import StatementConnection
from .repository import SecretRow, VersionRow


class VaultRepository(Protocol):
    async def get_secret(self, conn: StatementConnection, t: str, p: str, name: str,
                         lock: bool = False) -> SecretRow | None: ...

    async def get_secret_and_version(self, conn: StatementConnection, t: str, p: str, name: str,
                                     version: int | None
                                     ) -> tuple[SecretRow | None, VersionRow | None]: ...

    async def lock_or_create(self, conn: StatementConnection, t: str, p: str, name: str,
                             max_versions: int,
                             metadata_json: str) -> tuple[SecretRow, bool]: ...

    async def write_version(self, conn: StatementConnection, t: str, p: str,
                            secret_id: uuid.UUID, version: int, ciphertext: bytes,
                            dek_version: int, metadata_json: str | None,
                            max_versions: int | None, event: NewEvent) -> SecretRow: ...

    async def list_versions(self, conn: StatementConnection, t: str,
                            secret_id: uuid.UUID) -> list[VersionRow]: ...

    async def set_deleted(self, conn: StatementConnection, t: str, p: str, name: str,
                          deleted: bool) -> SecretRow | None: ...

    async def destroy(self, conn: StatementConnection, t: str, secret_id: uuid.UUID,
                      versions: list[int] | None) -> list[int]: ...

    async def list_secrets(self, conn: StatementConnection, t: str, p: str, prefix: str,
                           after: str, limit: int,
                           include_deleted: bool) -> list[SecretRow]: ...
