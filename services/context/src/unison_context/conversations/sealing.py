"""Conversation content under the person's data key: a message's whole JSON, a session's
latest response (JSON) and its summary (text). The AAD binds tenant, kind, person and
session id, so a blob copied to another session, person or tenant fails to open. It
does not bind the message's sequence number: the append assigns it in the statement
that stores the message (one round trip), after the message was sealed.

Rows written before revision 0002 hold plaintext instead; they are served as they are
until `unison-context seal-conversations` seals them. A plaintext value takes precedence
over a sealed one of the same field: the service clears the plaintext whenever it seals,
so both are present only when a replica of an older version wrote the plaintext later
(during a rolling upgrade)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from unison_shared.database import decode_stored_json

from ..keys.service import IntegrityFailure, PersonKeys
from .repository import MessageRow, Sealed, SessionRow

MESSAGE = "conversation-message"
RESPONSE = "conversation-response"
SUMMARY = "conversation-summary"


@dataclass(frozen=True)
class OpenSession:
    """A session as served: its response and summary opened."""

    session_id: str
    response: Any
    summary: str | None
    message_count: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class OpenMessage:
    seq: int
    body: Any
    created_at: datetime


class ConversationSealer:
    def __init__(self, keys: PersonKeys) -> None:
        self.keys = keys

    async def ready(self, pg: asyncpg.Connection, tenant: str, person: str) -> None:
        """Make sure the person's current key is at hand before sealing. Its first use in
        this process may read or create it, which needs a transaction: on a connection in
        autocommit (the append), a short one of its own, so a new key is committed before
        anything sealed under it is stored. Afterwards the key is cached: no round trip."""
        if pg.is_in_transaction() or self.keys.holds(tenant, person):
            await self.keys.current(pg, tenant, person)
            return
        async with pg.transaction():
            await self.keys.current(pg, tenant, person)

    async def seal(self, pg: asyncpg.Connection, tenant: str, person: str, kind: str,
                   sid: str, plaintext: bytes) -> Sealed:
        version, blob = await self.keys.seal(pg, tenant, person, kind, sid, plaintext)
        return Sealed(blob, version)

    async def seal_json(self, pg: asyncpg.Connection, tenant: str, person: str, kind: str,
                        sid: str, texts: list[str]) -> list[Sealed]:
        """JSON texts (already checked and encoded), in order."""
        if not texts:
            return []
        await self.ready(pg, tenant, person)
        return [await self.seal(pg, tenant, person, kind, sid, t.encode()) for t in texts]

    async def _open(self, pg: asyncpg.Connection, tenant: str, person: str, kind: str,
                    sid: str, version: int | None, blob: bytes) -> bytes:
        if version is None:  # the table's check forbids it
            raise IntegrityFailure()
        return await self.keys.open(pg, tenant, person, kind, sid, version, blob)

    async def open_session(self, pg: asyncpg.Connection, tenant: str, person: str,
                           row: SessionRow) -> OpenSession:
        response, summary = row.response, row.summary
        if response is None and row.response_sealed is not None:
            response = decode_stored_json((await self._open(
                pg, tenant, person, RESPONSE, row.session_id, row.response_dek_version,
                row.response_sealed)).decode())
        if summary is None and row.summary_sealed is not None:
            summary = (await self._open(pg, tenant, person, SUMMARY, row.session_id,
                                        row.summary_dek_version, row.summary_sealed)).decode()
        return OpenSession(row.session_id, response, summary, row.message_count,
                           row.created_at, row.updated_at)

    async def open_message(self, pg: asyncpg.Connection, tenant: str, person: str, sid: str,
                           row: MessageRow) -> OpenMessage:
        body = row.body
        if body is None and row.sealed is not None:
            body = decode_stored_json((await self._open(
                pg, tenant, person, MESSAGE, sid, row.dek_version, row.sealed)).decode())
        return OpenMessage(row.seq, body, row.created_at)
