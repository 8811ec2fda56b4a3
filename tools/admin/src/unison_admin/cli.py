"""`unison-admin`: operator commands over the whole platform. Each group of commands lives
in its own module and registers itself on `app` here."""

from __future__ import annotations

import typer

from . import backup, persons, restore, shred

app = typer.Typer(help="Operator commands of the Unison platform", no_args_is_help=True)
persons.register(app)
app.command("backup")(backup.backup_cmd)
app.command("restore")(restore.restore_cmd)
app.command("shred-backup")(shred.shred_backup_cmd)


@app.callback()
def main() -> None:
    """Back up and restore the platform; erase or export a person."""
