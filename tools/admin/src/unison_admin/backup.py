"""`unison-admin backup`: the whole platform into one directory.

Taken in this order, each part consistent in itself (docs/backup.md, Consistency):
1. the graphs (JSON lines per database): the services write content to storage before
   they write its id to the graph, so every storage id in the export was written before
   the database dumps start;
2. the storage database, then the context database (pg_dump: one snapshot each),
   without the rows of `person_data_keys`: those are read just after each dump into
   `keys/<db>.person_data_keys.jsonl`, so that `shred-backup` can remove an erased
   person's keys from the backup without touching the dumps (shred.py). Read after the
   dump, the file holds every key a row of the dump was sealed under (a key is stored
   before, or with, the first record it seals) unless the person was erased meanwhile;
3. the object payloads, copied after the storage dump: the service stores a payload
   before the row that names it, so every row in the dump finds its payload; payloads
   written later are extra files (reconcile removes orphans), never missing ones;
4. manifest.json last: the SHA-256 and size of every file, the schema versions
   (alembic revisions, applied graph migrations), counts.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from . import graph_export, object_store, shred
from .manifest import Manifest, now_iso, sha256_file
from .object_store import open_store
from .pg import PERSON_KEYS_TABLE, PgError, Postgres
from .progress import bar, console, stepper
from .targets import (
    ContextDb,
    Devstack,
    GraphDatabases,
    GraphPassword,
    GraphUri,
    GraphUser,
    ObjectBackend,
    ObjectRoot,
    PgBin,
    PlatformConfig,
    S3Bucket,
    S3Endpoint,
    S3Key,
    S3Region,
    S3Secret,
    StorageDb,
    build_config,
)

FAILURES: tuple[type[Exception], ...] = (PgError, *graph_export.ERRORS, *object_store.ERRORS)
Out = Annotated[Path, typer.Option("--out", help="new (or empty) directory for the backup")]


def backup_cmd(out: Out, devstack: Devstack = None, storage_db: StorageDb = None,
               context_db: ContextDb = None, object_backend: ObjectBackend = None,
               object_root: ObjectRoot = None, s3_endpoint: S3Endpoint = None,
               s3_bucket: S3Bucket = None, s3_region: S3Region = None, s3_key: S3Key = None,
               s3_secret: S3Secret = None, graph_uri: GraphUri = None,
               graph_user: GraphUser = None, graph_password: GraphPassword = None,
               graph_databases: GraphDatabases = None, pg_bin: PgBin = None) -> None:
    """Back up both PostgreSQL databases, the object store and the graphs, with a
    manifest of SHA-256 checksums and schema versions."""
    cfg = build_config(
        devstack=devstack, storage_db=storage_db, context_db=context_db,
        object_backend=object_backend, object_root=object_root, s3_endpoint=s3_endpoint,
        s3_bucket=s3_bucket, s3_region=s3_region, s3_key=s3_key, s3_secret=s3_secret,
        graph_uri=graph_uri, graph_user=graph_user, graph_password=graph_password,
        graph_databases=graph_databases, pg_bin=pg_bin)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        console.print(f"[red]{out} exists and is not an empty directory[/red]")
        raise typer.Exit(2)
    started = time.monotonic()
    try:
        manifest = run_backup(cfg, out)
    except FAILURES as exc:
        console.print(f"[red]backup failed:[/red] {exc}")
        console.print(f"{out} is incomplete (no manifest.json): remove it")
        raise typer.Exit(1) from exc
    _summary(manifest, out, time.monotonic() - started)


def run_backup(cfg: PlatformConfig, out: Path) -> Manifest:
    for url in cfg.databases.values():  # before anything is written
        Postgres(url, cfg.pg_bin).check_privileged()
    for sub in ("postgres", "graph", "objects"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    manifest = Manifest(created_at=now_iso())
    with bar() as progress:
        _graphs(cfg, out, manifest, progress)
        _databases(cfg, out, manifest, progress)
        _objects(cfg, out, manifest, progress)
    manifest.write(out)
    return manifest


def _graphs(cfg: PlatformConfig, out: Path, manifest: Manifest, progress: Progress) -> None:
    driver = graph_export.connect(cfg.graph)
    try:
        for database in cfg.graph.databases:
            nodes, rels = graph_export.counts(driver, database)
            advance = stepper(progress, f"graph {database}", nodes + rels)
            written = graph_export.export_database(driver, database, out / "graph", advance)
            manifest.graph[database] = {
                **written, "migrations": graph_export.migrations(driver, database)}
            for path in graph_export.node_files(out / "graph", database):
                manifest.add(out, path)
            manifest.order.append(f"graph:{database}")
    finally:
        driver.close()


def _databases(cfg: PlatformConfig, out: Path, manifest: Manifest, progress: Progress) -> None:
    for name, url in cfg.databases.items():
        advance = stepper(progress, f"postgres {name}", 1)
        pg = Postgres(url, cfg.pg_bin)
        path = out / "postgres" / f"{name}.dump"
        info = {"file": path.relative_to(out).as_posix(),
                "server_version": pg.server_version(),
                "alembic": pg.alembic_revisions(), "roles": pg.roles(),
                "keys": pg.key_references()}
        pg.dump(path, without_data_of=[PERSON_KEYS_TABLE])
        manifest.postgres[name] = info
        manifest.add(out, path)
        manifest.order.append(f"postgres:{name}")
        _person_keys(pg, name, out, manifest)
        advance(1)


def _person_keys(pg: Postgres, name: str, out: Path, manifest: Manifest) -> None:
    """The rows the dump left out, in a file of their own (none if there is no table)."""
    columns = pg.columns(PERSON_KEYS_TABLE)
    if not columns:
        return
    rel = shred.key_file(name)
    rows = shred.write_rows(out / rel, pg.read_rows(PERSON_KEYS_TABLE, columns))
    manifest.person_keys.setdefault("databases", {})[name] = {
        "file": rel, "table": PERSON_KEYS_TABLE, "rows": rows,
        "columns": [list(c) for c in columns]}
    manifest.add(out, out / rel)
    manifest.order.append(f"keys:{name}")


def _objects(cfg: PlatformConfig, out: Path, manifest: Manifest, progress: Progress) -> None:
    store = open_store(cfg.objects)
    keys = list(store.listing())
    advance = stepper(progress, "objects", len(keys))
    root = out / "objects"
    copied = total = 0
    for key, _size in keys:
        dest = root / key
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            store.download(key, dest)
        except FileNotFoundError:  # deleted since the listing: its row is gone too
            advance(1)
            continue
        manifest.add(out, dest, sha256_file(dest))
        copied += 1
        total += dest.stat().st_size
        advance(1)
    manifest.objects = {"backend": cfg.objects.backend, "source": store.describe(),
                        "count": copied, "bytes": total}
    manifest.order.append("objects")


def _summary(manifest: Manifest, out: Path, seconds: float) -> None:
    table = Table(title=f"backup {out}")
    table.add_column("part")
    table.add_column("contents")
    for name, info in manifest.postgres.items():
        revisions = ", ".join(f"{t}={'/'.join(v)}" for t, v in info["alembic"].items())
        keys = manifest.person_keys.get("databases", {}).get(name)
        held = f"; {keys['rows']} person data key(s) in {keys['file']}" if keys else ""
        table.add_row(f"postgres {name}", (revisions or "not migrated") + held)
    for name, info in manifest.graph.items():
        skipped = f" ({info['skipped']} to nodes made meanwhile left out)" \
            if info.get("skipped") else ""
        table.add_row(f"graph {name}", f"{info['nodes']} nodes, "
                                       f"{info['relationships']} relationships{skipped}")
    table.add_row("objects", f"{manifest.objects['count']} payloads, "
                             f"{manifest.objects['bytes']} bytes")
    console.print(table)
    size = sum(a.size for a in manifest.artifacts.values())
    typer.echo(f"backup written to {out}: {len(manifest.artifacts)} files, {size} bytes, "
               f"{seconds:.1f} s")

