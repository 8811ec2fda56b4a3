"""The commands every service's CLI has: `migrate` (its PostgreSQL schema, as the owner
role) and `serve` (uvicorn on its app factory)."""

from __future__ import annotations

from typing import Annotated

import typer


def service_cli(name: str, app_factory: str, port: int,
                migrations: str | None = None) -> typer.Typer:
    """A Typer app for `unison-<name>` with `serve` and, for a PostgreSQL service whose
    alembic.ini section is `migrations`, `migrate`; the service adds its own jobs."""
    app = typer.Typer(help=f"Unison {name} service", no_args_is_help=True)

    if migrations is not None:
        section = migrations

        @app.command()
        def migrate(url: Annotated[str | None, typer.Option(
                        envvar="UNISON_DATABASE_OWNER_URL",
                        help="the owner role's URL (migrations create and alter the "
                             "schema; the service itself runs as the runtime role)")] = None,
                    revision: str = "head") -> None:
            """Apply the database migrations (never done implicitly at app start)."""
            if not url:
                raise typer.BadParameter("set UNISON_DATABASE_OWNER_URL or pass --url")
            from .migration_helpers import alembic_upgrade

            alembic_upgrade(section, url, revision)
            typer.echo(f"{name} database migrated to {revision}")

    @app.command()
    def serve(host: str = "127.0.0.1", port_: Annotated[int, typer.Option(
                  "--port")] = port, workers: int = 1) -> None:
        """Serve the API with uvicorn (settings from the environment)."""
        import uvicorn

        uvicorn.run(app_factory, factory=True, host=host, port=port_, workers=workers,
                    access_log=False, log_config=None, loop="uvloop", http="httptools")

    return app
