"""Rows of the older context service's PostgreSQL tables, read once into memory per
table (the legacy tables are small: one row per person or session), with the same
interface as SqliteSource."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import asyncpg

# The only tables read, by name: never a name from the command line.
KNOWN_TABLES = frozenset({"person_profiles", "dashboard_state", "conversation_sessions"})


class PostgresSource:
    def __init__(self, tables: dict[str, list[dict[str, Any]]]) -> None:
        self.tables = tables

    @classmethod
    async def load(cls, dsn: str) -> PostgresSource:
        conn = await asyncpg.connect(dsn.replace("postgresql+asyncpg://", "postgresql://", 1))
        try:
            present = {r[0] for r in await conn.fetch(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema() AND table_name = ANY($1::text[])",
                sorted(KNOWN_TABLES))}
            tables: dict[str, list[dict[str, Any]]] = {}
            for table in sorted(present & KNOWN_TABLES):
                rows = await conn.fetch(f'SELECT * FROM "{table}"')  # noqa: S608
                tables[table] = [{"_rowid": i + 1, **dict(r)} for i, r in enumerate(rows)]
            return cls(tables)
        finally:
            await conn.close()

    def close(self) -> None:
        self.tables = {}

    def count(self, table: str) -> int:
        return len(self.tables.get(table, []))

    def rows(self, table: str) -> Iterator[dict[str, Any]]:
        yield from self.tables.get(table, [])
