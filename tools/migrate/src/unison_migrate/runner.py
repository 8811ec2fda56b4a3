"""Opens the target database (and object store) with the service's own settings and
keys, runs one importer, closes everything."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from unison_shared.crypto import Keyring, load_keyring
from unison_shared.database import Database
from unison_shared.settings import Environment, ServiceSettings

from .common import Progress, no_progress
from .context_import import ContextImport, ContextImporter
from .pg_source import PostgresSource
from .report import ImportReport
from .sqlite_source import SqliteSource
from .storage_import import StorageImport, StorageImporter


def _keyring(settings: ServiceSettings) -> Keyring:
    """The KEK keyring the service itself uses (UNISON_KEK_KEYRING[_FILE], or in dev the
    one generated under UNISON_STATE_DIR): data imported here must open in the service."""
    return load_keyring(
        settings.kek_keyring.get_secret_value() if settings.kek_keyring else None,
        settings.kek_keyring_file, settings.state_dir,
        allow_generate=settings.environment is not Environment.PRODUCTION)


async def import_context(source_path: Path | str, opts: ContextImport, url: str | None = None,
                         progress: Progress = no_progress) -> ImportReport:
    """`source_path`: the older service's SQLite file, or a postgresql:// URL of the
    database holding its tables."""
    from unison_context.settings import ContextSettings
    from unison_context.wiring import build_services

    settings = ContextSettings()
    if url:
        settings = settings.model_copy(update={"database_url": SecretStr(url)})
    source: SqliteSource | PostgresSource
    if str(source_path).startswith("postgresql"):
        source = await PostgresSource.load(str(source_path))
    else:
        source = SqliteSource(Path(source_path))
    db = await Database.open(settings.database_url.get_secret_value(), 2, "unison-migrate")
    try:
        services = build_services(settings, _keyring(settings))
        return await ContextImporter(db, services, opts).run(source, progress)
    finally:
        await db.close()
        source.close()


async def import_storage(sqlite: Path, opts: StorageImport, url: str | None = None,
                         progress: Progress = no_progress) -> ImportReport:
    from unison_storage.objects.backends import create_object_store
    from unison_storage.settings import StorageSettings
    from unison_storage.wiring import build_services

    settings = StorageSettings()
    if url:
        settings = settings.model_copy(update={"database_url": SecretStr(url)})
    source = SqliteSource(sqlite)
    db = await Database.open(settings.database_url.get_secret_value(), 2, "unison-migrate")
    store = create_object_store(settings)
    try:
        services = _storage_services(build_services, settings, db, store)
        return await StorageImporter(services, opts).run(source, progress)
    finally:
        close = getattr(store, "close", None)
        if close is not None:
            await close()
        await db.close()
        source.close()


def _storage_services(build: Any, settings: Any, db: Database, store: Any) -> Any:
    """Storage's services, built as its main.py builds them. Storage is growing (an
    audit signing key joined its wiring while this importer was written): the extra
    arguments are added when its `build_services` asks for them."""
    args: list[Any] = [settings, db, None, _keyring(settings), store]
    if "signing_key" in inspect.signature(build).parameters:
        signing = importlib.import_module("unison_storage.audit.signing")
        opts = settings.storage
        args.append(signing.load_signing_key(
            opts.audit_signing_key.get_secret_value() if opts.audit_signing_key else None,
            opts.audit_signing_key_file, settings.state_dir,
            allow_generate=settings.environment is not Environment.PRODUCTION))
    return build(*args)
