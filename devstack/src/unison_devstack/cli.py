"""`unison-devstack`: start and stop the local platform, mint development tokens."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .stack import StackConfig, dev_secret, down, ensure_signing_key, signing_key_path, up
from .tokens import mint_token

app = typer.Typer(help="Docker-free local runner for the Unison platform", no_args_is_help=True)

StateDir = Annotated[Path, typer.Option(envvar="DEVSTACK_STATE_DIR", help="state directory")]


@app.command("up")
def up_cmd(state_dir: StateDir = Path(".devstack")) -> None:
    """Start PostgreSQL, Redis, ArcadeDB and the four services; print every URL."""
    cfg = StackConfig.from_env(state_dir)
    urls = up(cfg)
    typer.echo(f"Unison platform is up (state in {cfg.state_dir}):")
    for name, url in urls.items():
        typer.echo(f"  {name:<14} {url}")
    typer.echo(f"  {'logs':<14} {cfg.logs}")
    typer.echo("\nThe platform signing key (erasure receipts; unison-admin reads it):")
    typer.echo(f"  UNISON_PLATFORM_SIGNING_KEY_FILE={signing_key_path(cfg.state_dir)}")
    typer.echo("\nMint a development token for a person in a household:")
    typer.echo("  uv run unison-devstack token --person alice --household home")
    typer.echo("Then, for example:")
    typer.echo(f'  curl -H "Authorization: Bearer $TOKEN" {urls["storage"]}/v1/whoami')
    typer.echo("Stop everything with: make down")


@app.command("down")
def down_cmd(state_dir: StateDir = Path(".devstack")) -> None:
    """Stop everything `up` started (data stays in the state directory)."""
    stopped = down(StackConfig.from_env(state_dir))
    typer.echo("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))


@app.command("signing-key")
def signing_key_cmd(state_dir: StateDir = Path(".devstack")) -> None:
    """Create the platform signing key if missing (as `up` does) and print the variable
    that points at it; the compose devstack mounts the same file as a secret."""
    path = ensure_signing_key(StackConfig.from_env(state_dir).state_dir)
    typer.echo(f"UNISON_PLATFORM_SIGNING_KEY_FILE={path}")


@app.command("token")
def token_cmd(person: Annotated[str, typer.Option(help="person_id claim")],
              household: Annotated[str, typer.Option(help="household_id claim (tenant)")],
              audience: Annotated[str, typer.Option(help="service audience")] = "storage",
              ttl: Annotated[int, typer.Option(help="lifetime in seconds")] = 3600,
              scope: Annotated[list[str] | None, typer.Option(help="scopes")] = None,
              state_dir: StateDir = Path(".devstack")) -> None:
    """Print an HS256 development token signed with the local stack's secret."""
    secret = dev_secret(StackConfig.from_env(state_dir))
    typer.echo(mint_token(secret, person_id=person, household_id=household,
                          audience=[a.strip() for a in audience.split(",")],
                          ttl_seconds=ttl, scopes=scope or []))


if __name__ == "__main__":
    app()
