"""`unison-context-graph`: apply the Cypher migrations, serve the API."""

from __future__ import annotations

import asyncio

import typer

from unison_shared.graph_runtime import run_migrations

from .settings import ContextGraphSettings

app = typer.Typer(help="The Unison context-graph service", no_args_is_help=True)


@app.command()
def migrate() -> None:
    """Apply pending migrations from migrations/context_graph (each runs once)."""
    ran = asyncio.run(run_migrations(ContextGraphSettings(), "context_graph", "context"))
    typer.echo("applied: " + (", ".join(ran) if ran else "nothing (up to date)"))


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8091) -> None:
    """Serve the API with uvicorn (settings from the environment)."""
    import uvicorn

    uvicorn.run("unison_context_graph.main:create_app", factory=True, host=host, port=port,
                access_log=False)


if __name__ == "__main__":
    app()
