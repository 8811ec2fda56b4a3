"""`unison-storage` command line: migrations, serving, and operator jobs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Unison storage service", no_args_is_help=True)


def migrations_dir() -> Path:
    configured = os.environ.get("UNISON_MIGRATIONS_DIR")
    if configured:
        return Path(configured)
    # services/storage/src/unison_storage/cli.py -> repository root
    return Path(__file__).resolve().parents[4] / "migrations"


def run_migrations(url: str, revision: str = "head") -> None:
    """`alembic upgrade` for the storage database; also used by tests and `make up`."""
    from alembic import command
    from alembic.config import Config

    cfg = Config(str(migrations_dir() / "alembic.ini"), ini_section="storage")
    cfg.cmd_opts = None
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(cfg, revision)


@app.command()
def migrate(url: Annotated[str | None, typer.Option(envvar="UNISON_DATABASE_URL")] = None,
            revision: str = "head") -> None:
    """Apply the storage database migrations (never done implicitly at app start)."""
    if not url:
        raise typer.BadParameter("set UNISON_DATABASE_URL or pass --url")
    run_migrations(url, revision)
    typer.echo(f"storage database migrated to {revision}")


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8082, workers: int = 1) -> None:
    """Serve the API with uvicorn (settings from the environment)."""
    import uvicorn

    uvicorn.run("unison_storage.main:create_app", factory=True, host=host, port=port,
                workers=workers, access_log=False, log_config=None, loop="uvloop",
                http="httptools")


if __name__ == "__main__":
    app()
