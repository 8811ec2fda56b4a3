"""Cypher schema migrations: idempotent `.cypher` files applied once, in name order.

A folder (migrations/context_graph, migrations/intent_graph) holds `NNNN_name.cypher`
files of `;`-separated statements, each one idempotent on its own (`IF NOT EXISTS`), so
a run interrupted half-way is safe to repeat. A file meant for one server only is named
`NNNN_name.<dialect>.cypher` (`neo4j` or `arcadedb`) and skipped elsewhere. Each
applied file is recorded in the graph as a `UnisonMigration {scope, name}` node, so it
runs once per database.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .graph import Dialect, Graph

logger = logging.getLogger("unison.graph.migrations")
_NAME = re.compile(r"^(\d{4}_[a-z0-9_]+)(?:\.(neo4j|arcadedb))?\.cypher$")


@dataclass(frozen=True)
class Migration:
    name: str
    path: Path
    dialect: Dialect | None

    def statements(self) -> list[str]:
        text = "\n".join(line for line in self.path.read_text().splitlines()
                         if not line.strip().startswith("//"))
        return [stmt.strip() for stmt in text.split(";") if stmt.strip()]


def migrations_root() -> Path:
    """UNISON_MIGRATIONS_DIR (images), else the repository's migrations/ folder."""
    configured = os.environ.get("UNISON_MIGRATIONS_DIR")
    if configured:
        return Path(configured)
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "migrations"
        if (candidate / "context_graph").is_dir():
            return candidate
    return Path("migrations")


def discover(folder: Path, dialect: Dialect) -> list[Migration]:
    found: list[Migration] = []
    for path in sorted(folder.glob("*.cypher")):
        match = _NAME.match(path.name)
        if match is None:
            raise ValueError(f"migration file name {path.name!r} is not NNNN_name.cypher")
        only = Dialect(match.group(2)) if match.group(2) else None
        if only is None or only is dialect:
            found.append(Migration(match.group(1), path, only))
    return found


async def applied(graph: Graph, scope: str) -> set[str]:
    rows = await graph.run_unscoped(
        "migrations.applied",
        "MATCH (m:UnisonMigration {scope: $scope}) RETURN m.name AS name",
        {"scope": scope}, write=False)
    return {str(r["name"]) for r in rows.records}


async def migrate(graph: Graph, folder: Path, scope: str) -> list[str]:
    """Apply the folder's pending migrations; the names applied now."""
    done = await applied(graph, scope)
    ran: list[str] = []
    for migration in discover(folder, graph.dialect):
        if migration.name in done:
            continue
        for statement in migration.statements():
            # Schema statements are constant text from the repository's own files.
            await graph.run_unscoped(f"migration.{migration.name}",
                                     statement)  # type: ignore[arg-type,unused-ignore]
        await graph.run_unscoped(
            "migrations.record",
            "MERGE (m:UnisonMigration {scope: $scope, name: $name}) "
            "ON CREATE SET m.applied_at = timestamp()",
            {"scope": scope, "name": migration.name})
        logger.info("graph migration %s/%s applied", scope, migration.name)
        ran.append(migration.name)
    return ran
