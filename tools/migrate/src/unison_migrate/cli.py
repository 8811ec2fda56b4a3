"""`unison-migrate`: import the older UnisonOS services' SQLite files, with progress bars
and a report per table. Safe to run again: what is already there is skipped."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

from .context_import import ContextImport
from .report import ImportReport
from .storage_import import StorageImport

app = typer.Typer(help="Import older UnisonOS context and storage data", no_args_is_help=True)
console = Console(stderr=True)

Url = Annotated[str | None, typer.Option(envvar="UNISON_DATABASE_URL",
                                         help="target database (the service's own)")]
Household = Annotated[str, typer.Option(help="household (tenant) the legacy rows belong to")]


def _run(work: Callable[[Callable[[str, int | None], None]],
                        Coroutine[Any, Any, ImportReport]]) -> None:
    tasks: dict[str, TaskID] = {}
    with Progress(TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(),
                  console=console) as bar:
        def progress(table: str, total: int | None) -> None:
            if total is not None:
                tasks[table] = bar.add_task(table, total=total)
            else:
                bar.advance(tasks[table])

        report: ImportReport = asyncio.run(work(progress))
    _print(report)
    if report.failed:
        raise typer.Exit(2)


def _print(report: ImportReport) -> None:
    table = Table(title="import report")
    for column in ("table", "imported", "skipped", "failed"):
        table.add_column(column)
    for t in report.tables.values():
        table.add_row(t.table, str(t.imported), str(t.skipped), str(t.failed))
    console.print(table)
    for line in report.lines():
        typer.echo(line)


def _handles(file: Path | None, pairs: list[str]) -> dict[str, str]:
    handles: dict[str, str] = {}
    if file is not None:
        loaded = json.loads(file.read_text())
        if not isinstance(loaded, dict):
            raise typer.BadParameter("--key-handles: a JSON object {person_id: key_handle}")
        handles.update({str(k): str(v) for k, v in loaded.items()})
    for pair in pairs:
        person, sep, handle = pair.partition("=")
        if not sep:
            raise typer.BadParameter("--key-handle: PERSON=HANDLE")
        handles[person] = handle
    return handles


@app.command("context")
def context_cmd(
    source: Annotated[str, typer.Argument(
        help="the older context service's SQLite file, or a postgresql:// URL of the "
             "database holding its tables")],
    household: Household,
    url: Url = None,
    root_secret_file: Annotated[Path | None, typer.Option(
        help="file holding the older service's root secret (for p1: values)")] = None,
    key_handles: Annotated[Path | None, typer.Option(
        help="JSON file {person_id: key_handle}")] = None,
    key_handle: Annotated[list[str] | None, typer.Option(help="PERSON=HANDLE")] = None,
    households: Annotated[Path | None, typer.Option(
        help="JSON file {person_id: household_id} for persons of other households")] = None,
) -> None:
    """Profiles, dashboards and conversations into the context database."""
    from .runner import import_context

    secret = root_secret_file.read_bytes().strip() if root_secret_file else None
    opts = ContextImport(tenant=household, root_secret=secret,
                         key_handles=_handles(key_handles, key_handle or []),
                         households=json.loads(households.read_text()) if households else {})
    _run(lambda progress: import_context(source, opts, url, progress))


@app.command("storage")
def storage_cmd(
    sqlite: Annotated[Path, typer.Argument(help="the older storage service's SQLite file")],
    household: Household,
    url: Url = None,
    person: Annotated[str, typer.Option(help="person of rows that name none")] = "",
    objects_dir: Annotated[Path | None, typer.Option(
        help="payload directory (default: objects/ beside the SQLite file)")] = None,
) -> None:
    """KV, memory, vault, audit events and objects into the storage service."""
    from .runner import import_storage

    opts = StorageImport(tenant=household, person=person,
                         objects_dir=objects_dir or sqlite.parent / "objects")
    _run(lambda progress: import_storage(sqlite, opts, url, progress))


if __name__ == "__main__":
    app()
