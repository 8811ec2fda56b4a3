"""`unison-storage` command line: migrations, serving, and operator jobs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from unison_shared.cli import service_cli

app = service_cli("storage", "unison_storage.main:create_app", 8082, migrations="storage")


def run_migrations(url: str, revision: str = "head") -> None:
    """`alembic upgrade` for the storage database (as the owner role); also used by the
    tests and `make up`."""
    from unison_shared.migration_helpers import alembic_upgrade

    alembic_upgrade("storage", url, revision)


# --- key management (vault domain) ------------------------------------------------------
# No-downtime KEK rotation, in this order:
#   1. `rotate-kek --keyring-file PATH` writes the new keyring (old versions kept, the new
#      one current) atomically BEFORE rewrapping, then rewraps every tenant data key;
#   2. replicas that read the same keyring file (a shared secret mount) pick up the new
#      version by themselves the first time they meet a data key wrapped by it. Where
#      each replica has its own copy, distribute the file first: run step 1 with
#      `--no-rewrap`, copy the file, then run `rewrap-keys`;
#   3. both commands print how many data keys each KEK version still wraps: a version may
#      be removed from the keyring once its count is zero.

KeyringFile = Annotated[Path, typer.Option(envvar="UNISON_KEK_KEYRING_FILE",
                                           help="the KEK keyring JSON file")]
# Key jobs cross tenants: they run as the system role.
SystemDbUrl = Annotated[str | None, typer.Option(envvar="UNISON_DATABASE_SYSTEM_URL",
                                                 help="the system role's database URL")]


def _run_key_job(url: str | None, keyring_file: Path, job: str, rewrap: bool = True) -> None:
    import asyncio

    from unison_shared.crypto import Keyring
    from unison_shared.database import Database

    from .keys import rotation
    from .keys.service import DataKeyService

    if not url:
        raise typer.BadParameter("set UNISON_DATABASE_SYSTEM_URL or pass --url")
    if not keyring_file.is_file():
        raise typer.BadParameter(f"keyring file {keyring_file} does not exist")

    ring = Keyring.from_json(keyring_file.read_text())

    async def run() -> rotation.RotationResult:
        db = await Database.open(url, 1, "unison-storage-keys", system_url=url)
        try:
            keys = DataKeyService(ring)
            if job == "rotate":
                return await rotation.rotate_kek(db, keys, keyring_file, rewrap=rewrap)
            return await rotation.rewrap_keys(db, keys, keys.keyring)
        finally:
            await db.close()

    result = asyncio.run(run())
    typer.echo(f"current KEK version: {result.kek_version}; data keys rewrapped: "
               f"{result.rewrapped}")
    for version, count in sorted(result.data_keys_by_kek.items()):
        typer.echo(f"  {version}: wraps {count} data key(s)")


@app.command("rotate-kek")
def rotate_kek(keyring_file: KeyringFile, url: SystemDbUrl = None,
               rewrap: Annotated[bool, typer.Option(help="rewrap data keys now")] = True
               ) -> None:
    """Add a new KEK version to the keyring file and rewrap every tenant data key."""
    _run_key_job(url, keyring_file, "rotate", rewrap)


@app.command("rewrap-keys")
def rewrap_keys(keyring_file: KeyringFile, url: SystemDbUrl = None) -> None:
    """Rewrap every tenant data key under the keyring file's current KEK version."""
    _run_key_job(url, keyring_file, "rewrap")


@app.command("reconcile-objects")
def reconcile_objects(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="report, change nothing")] = False,
    grace_seconds: Annotated[float, typer.Option(
        "--grace-seconds", min=0, help="leave payloads younger than this alone "
                                       "(uploads in flight)")] = 3600,
) -> None:
    """Find payloads without metadata rows and rows without payloads, and repair both."""
    import asyncio

    import orjson

    from .objects.schemas import ReconcileReport

    async def run() -> ReconcileReport:
        import secrets

        from unison_shared.database import Database

        from .objects.backends import create_object_store
        from .objects.service import ObjectService
        from .settings import StorageSettings

        settings = StorageSettings()
        system_url = settings.database_system_url
        if system_url is None:
            raise typer.BadParameter("set UNISON_DATABASE_SYSTEM_URL (the system role)")
        db = await Database.open(settings.database_url.get_secret_value(), 1,
                                 "unison-storage-reconcile", system_url.get_secret_value())
        store = create_object_store(settings)
        try:
            # Reconcile never signs links: a throwaway key keeps the KEK out of this job.
            service = ObjectService(db, store, settings.storage,
                                    secrets.token_bytes(32))
            return await service.reconcile(dry_run=dry_run, grace_seconds=grace_seconds)
        finally:
            await store.close()
            await db.close()

    from .objects.reconcile import ReconcileBusy

    try:
        report = asyncio.run(run())
    except ReconcileBusy as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(1) from None
    typer.echo(orjson.dumps(report.model_dump(), option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    app()
