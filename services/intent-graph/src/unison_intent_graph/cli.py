"""`unison-intent-graph`: apply the Cypher migrations, serve the API."""

from __future__ import annotations

import asyncio

import typer

from unison_shared.graph_runtime import run_migrations

from .settings import IntentGraphSettings

app = typer.Typer(help="The Unison intent-graph service", no_args_is_help=True)


@app.command()
def migrate() -> None:
    """Apply pending migrations from migrations/intent_graph (each runs once)."""
    ran = asyncio.run(run_migrations(IntentGraphSettings(), "intent_graph", "intent"))
    typer.echo("applied: " + (", ".join(ran) if ran else "nothing (up to date)"))


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8089) -> None:
    """Serve the API with uvicorn (settings from the environment)."""
    import uvicorn

    uvicorn.run("unison_intent_graph.main:create_app", factory=True, host=host, port=port,
                access_log=False)


if __name__ == "__main__":
    app()
