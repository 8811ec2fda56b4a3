"""`unison-context seal-conversations`: seal the conversation content written before
revision 0002 (plaintext messages, responses and summaries) under each person's data key
and clear the plaintext, in batches of one system transaction each. The migration could
not do it (it runs as the owner, without the KEK).

Idempotent and safe beside running replicas: a batch locks its rows and puts each
plaintext value's sealed copy in its place; the service reads either form meanwhile. A
person's first data key may be created here, in the batch's transaction (the service
would create the same one on its first write: the first insert wins)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from unison_shared.database import Database, asyncpg_of

from ..keys.service import PersonKeys
from . import legacy_repository as repository
from .repository import Sealed
from .sealing import MESSAGE, RESPONSE, SUMMARY

BATCH = 500
MESSAGES, SESSIONS = "messages", "sessions"


@dataclass
class SealResult:
    messages: int = 0
    sessions: int = 0
    left_messages: int = 0
    left_sessions: int = 0


async def _asyncpg(conn: AsyncConnection) -> asyncpg.Connection:
    """The asyncpg connection under the system transaction. SQLAlchemy sends BEGIN with
    its first statement, so one is sent before the raw connection is used."""
    await conn.execute(text("SELECT 1"))
    pg = await asyncpg_of(conn)
    if not pg.is_in_transaction():
        raise RuntimeError("the system connection is not in a transaction")
    return pg


async def count_plaintext(db: Database) -> tuple[int, int]:
    """(messages, sessions) still holding plaintext."""
    async with db.system() as conn:
        return await repository.count_plaintext(await _asyncpg(conn))


class LegacySealer:
    def __init__(self, db: Database, keys: PersonKeys, batch: int = BATCH) -> None:
        self.db, self.keys, self.batch = db, keys, batch

    async def _seal(self, pg: asyncpg.Connection, tenant: str, person: str, kind: str,
                    sid: str, value: str) -> Sealed:
        version, blob = await self.keys.seal(pg, tenant, person, kind, sid, value.encode())
        return Sealed(blob, version)

    async def _seal_field(self, pg: asyncpg.Connection, tenant: str, person: str, kind: str,
                          sid: str, value: str | None) -> Sealed | None:
        return None if value is None else await self._seal(pg, tenant, person, kind, sid,
                                                           value)

    async def messages(self, advance: Callable[[int], None]) -> int:
        done = 0
        after: tuple[str, str, str, int] | None = None
        while True:
            async with self.db.system() as conn:
                pg = await _asyncpg(conn)
                rows = await repository.plaintext_messages(pg, after, self.batch)
                if not rows:
                    return done
                sealed = [await self._seal(pg, r.tenant_id, r.person_id, MESSAGE,
                                           r.session_id, r.body) for r in rows]
                await repository.seal_messages(pg, rows, sealed)
            last = rows[-1]
            after = (last.tenant_id, last.person_id, last.session_id, last.seq)
            done += len(rows)
            advance(len(rows))

    async def sessions(self, advance: Callable[[int], None]) -> int:
        done = 0
        after: tuple[str, str, str] | None = None
        while True:
            async with self.db.system() as conn:
                pg = await _asyncpg(conn)
                rows = await repository.plaintext_sessions(pg, after, self.batch)
                if not rows:
                    return done
                responses = [await self._seal_field(pg, r.tenant_id, r.person_id, RESPONSE,
                                                    r.session_id, r.response) for r in rows]
                summaries = [await self._seal_field(pg, r.tenant_id, r.person_id, SUMMARY,
                                                    r.session_id, r.summary) for r in rows]
                await repository.seal_sessions(pg, rows, responses, summaries)
            last = rows[-1]
            after = (last.tenant_id, last.person_id, last.session_id)
            done += len(rows)
            advance(len(rows))


async def seal_all(db: Database, keys: PersonKeys, batch: int = BATCH,
                   progress: Callable[[str, int], Callable[[int], None]] | None = None
                   ) -> SealResult:
    """Every plaintext message and session; `progress(what, total)` gives the function
    that advances a display. The result says what was sealed and what is still plaintext
    (rows a replica of an older version wrote meanwhile: run again)."""
    total_messages, total_sessions = await count_plaintext(db)

    def bar(what: str, total: int) -> Callable[[int], None]:
        return progress(what, total) if progress else (lambda _n: None)

    sealer = LegacySealer(db, keys, batch)
    result = SealResult()
    result.messages = await sealer.messages(bar(MESSAGES, total_messages))
    result.sessions = await sealer.sessions(bar(SESSIONS, total_sessions))
    result.left_messages, result.left_sessions = await count_plaintext(db)
    return result
