"""`unison-context` command line: migrations and serving."""

from __future__ import annotations

from typing import Annotated

import typer

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


if __name__ == "__main__":
    app()
