"""Rows of an older service's SQLite file, as dicts; a missing table is an empty one."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class SqliteSource:
    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist")
        # Read-only: the importer never changes the legacy file.
        self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        self.conn.row_factory = sqlite3.Row

    def close(self) -> None:
        self.conn.close()

    def has_table(self, table: str) -> bool:
        row = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()
        return row is not None

    def count(self, table: str) -> int:
        if not self.has_table(table):
            return 0
        # `table` is one of the importer's constant names, checked by has_table above.
        return int(self.conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])  # noqa: S608

    def rows(self, table: str) -> Iterator[dict[str, Any]]:
        if not self.has_table(table):
            return
        for row in self.conn.execute(f'SELECT rowid AS _rowid, * FROM "{table}"'):  # noqa: S608
            yield dict(row)
