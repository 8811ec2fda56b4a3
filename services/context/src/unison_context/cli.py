"""`unison-context` command line: migrations, serving and maintenance jobs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from collections.abc import Callable

    from unison_shared.crypto import Keyring

    from .conversations.seal_legacy import SealResult
    from .keys.rewrap import RewrapResult

app = typer.Typer(help="Unison context service", no_args_is_help=True)


def run_migrations(url: str, revision: str = "head") -> None:
    """`alembic upgrade` for the context database; also used by tests and `make up`."""
    from unison_shared.migration_helpers import alembic_upgrade

    alembic_upgrade("context", url, revision)


@app.command()
def migrate(url: Annotated[str | None, typer.Option(envvar="UNISON_DATABASE_URL")] = None,
            revision: str = "head") -> None:
    """Apply the context database migrations (never done implicitly at app start)."""
    if not url:
        raise typer.BadParameter("set UNISON_DATABASE_URL or pass --url")
    run_migrations(url, revision)
    typer.echo(f"context database migrated to {revision}")


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8081, workers: int = 1) -> None:
    """Serve the API with uvicorn (settings from the environment)."""
    import uvicorn

    uvicorn.run("unison_context.main:create_app", factory=True, host=host, port=port,
                workers=workers, access_log=False, log_config=None, loop="uvloop",
                http="httptools")


KeyringFile = Annotated[Path, typer.Option(envvar="UNISON_KEK_KEYRING_FILE",
                                          help="the KEK keyring JSON file")]
SystemUrl = Annotated[str | None, typer.Option(envvar="UNISON_DATABASE_SYSTEM_URL",
                                               help="the system role's database URL")]


def _system_job_inputs(keyring_file: Path, system_url: str | None) -> tuple[str, Keyring]:
    from unison_shared.crypto import Keyring

    if not system_url:
        raise typer.BadParameter("set UNISON_DATABASE_SYSTEM_URL or pass --system-url")
    if not keyring_file.is_file():
        raise typer.BadParameter(f"keyring file {keyring_file} does not exist")
    return system_url, Keyring.from_json(keyring_file.read_text())


@app.command("rewrap-keys")
def rewrap_keys(keyring_file: KeyringFile, system_url: SystemUrl = None) -> None:
    """Rewrap every person's data key under the keyring's current KEK version (after
    adding a version to the keyring); prints how many keys each KEK version wraps: a
    version may leave the keyring once its count is zero."""
    import asyncio

    url, ring = _system_job_inputs(keyring_file, system_url)
    result = asyncio.run(rewrap(url, ring))
    typer.echo(f"current KEK version: {result.kek_version}; data keys rewrapped: "
               f"{result.rewrapped}")
    for version, count in sorted(result.data_keys_by_kek.items()):
        typer.echo(f"  {version}: wraps {count} data key(s)")


async def rewrap(system_url: str, ring: Keyring) -> RewrapResult:
    from unison_shared.database import Database

    from .keys.rewrap import rewrap_all

    db = await Database.open(system_url, 1, "unison-context-rewrap", system_url=system_url)
    try:
        return await rewrap_all(db, ring)
    finally:
        await db.close()


@app.command("seal-conversations")
def seal_conversations(keyring_file: KeyringFile, system_url: SystemUrl = None,
                       batch: Annotated[int, typer.Option(
                           min=1, max=10_000, help="rows per transaction")] = 500) -> None:
    """Seal the conversation content written before migration 0002 (messages, latest
    responses, summaries, stored in plain text) under each person's data key and clear
    the plain text, in batches (one transaction each), beside the running service.
    Idempotent; exit code 1 when plain text is left (written meanwhile by a replica of
    an older version: run again once every replica runs this one)."""
    import asyncio

    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    url, ring = _system_job_inputs(keyring_file, system_url)
    with Progress(TextColumn("sealing {task.description:<10}"), BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True)) as bars:

        def progress(what: str, total: int) -> Callable[[int], None]:
            task = bars.add_task(what, total=total)
            return lambda n: bars.advance(task, n)

        result = asyncio.run(seal(url, ring, batch, progress))
    typer.echo(f"sealed: {result.messages} message(s), {result.sessions} session(s); "
               f"left in plain text: {result.left_messages} message(s), "
               f"{result.left_sessions} session(s)")
    if result.left_messages or result.left_sessions:
        raise typer.Exit(1)


async def seal(system_url: str, ring: Keyring, batch: int,
               progress: Callable[[str, int], Callable[[int], None]] | None = None
               ) -> SealResult:
    from unison_shared.database import Database

    from .conversations.seal_legacy import seal_all
    from .keys.service import PersonKeys

    db = await Database.open(system_url, 1, "unison-context-seal", system_url=system_url)
    try:
        return await seal_all(db, PersonKeys(ring), batch, progress)
    finally:
        await db.close()


if __name__ == "__main__":
    app()
