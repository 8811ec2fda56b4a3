"""What the audit service needs from its repository; `repository` (PostgreSQL) and
`repository_sqlite` (development) both provide it, checked by mypy."""

from __future__ import annotations

from typing import Protocol

from ..database import StatementConnection
from .repository import EventFilter, EventRow, Head, NewEvent


class AuditRepository(Protocol):
    async def append_event(self, conn: StatementConnection,
                           event: NewEvent) -> tuple[EventRow, bool]: ...

    async def get_head(self, conn: StatementConnection, tenant: str) -> Head | None: ...

    async def get(self, conn: StatementConnection, tenant: str, event_id: str,
                  person: str | None = None) -> EventRow | None: ...

    async def list_events(self, conn: StatementConnection, tenant: str, f: EventFilter,
                          after_seq: int | None, ascending: bool,
                          limit: int) -> list[EventRow]: ...

    async def chain_batch(self, conn: StatementConnection, tenant: str, after_seq: int,
                          upto_seq: int, limit: int) -> list[EventRow]: ...
