"""`unison-context` command line: migrations and serving."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from unison_shared.crypto import Keyring

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


@app.command("rewrap-keys")
def rewrap_keys(
    keyring_file: Annotated[Path, typer.Option(envvar="UNISON_KEK_KEYRING_FILE",
                                               help="the KEK keyring JSON file")],
    system_url: Annotated[str | None, typer.Option(
        envvar="UNISON_DATABASE_SYSTEM_URL", help="the system role's database URL")] = None,
) -> None:
    """Rewrap every person's data key under the keyring's current KEK version (after
    adding a version to the keyring); prints how many keys each KEK version wraps: a
    version may leave the keyring once its count is zero."""
    import asyncio

    from unison_shared.crypto import Keyring

    if not system_url:
        raise typer.BadParameter("set UNISON_DATABASE_SYSTEM_URL or pass --system-url")
    if not keyring_file.is_file():
        raise typer.BadParameter(f"keyring file {keyring_file} does not exist")
    result = asyncio.run(rewrap(system_url, Keyring.from_json(keyring_file.read_text())))
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


if __name__ == "__main__":
    app()
