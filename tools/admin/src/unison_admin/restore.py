"""`unison-admin restore`: a backup into an empty platform.

1. Every file is checked against the manifest (size, SHA-256; nothing missing, nothing
   unlisted) before anything is touched: a corrupted backup is refused, naming the file.
2. The target must be empty: no rows in either database (alembic's version tables
   aside: a freshly migrated platform is empty), no payload in the object store, no
   graph node but the migration records. A target at another alembic revision than the
   backup, or missing a role the dumps name, is refused. `--force` restores over data
   anyway (the databases are replaced, graph nodes deleted first, payloads overwritten;
   payloads the backup does not hold are left for reconcile).
3. Loaded in the reverse order of the references: payloads, then the databases whose
   rows name them (storage, context), then the graphs whose nodes name storage records.
   Each database's person data keys (kept out of its dump, shred.py) are loaded right
   after its dump, by COPY in one transaction, and counted against the manifest.
4. Persons shredded from the backup (`shred-backup`) are listed at the end: their
   encrypted records stay unreadable, but their plaintext records are back, so the
   operator re-applies their erasures (`erase-person`) on the restored platform.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import redis
import typer
from rich.progress import Progress
from rich.table import Table

from . import caches, graph_export, object_store, shred
from .manifest import Manifest, ManifestError, verify_file
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
    RedisUrl,
    S3Bucket,
    S3Endpoint,
    S3Key,
    S3Region,
    S3Secret,
    StorageDb,
    build_config,
)

Backup = Annotated[Path, typer.Argument(help="the backup directory (`unison-admin backup --out`)")]
Force = Annotated[bool, typer.Option(
    "--force", help="restore over a platform that holds data (it is replaced)")]
FAILURES: tuple[type[Exception], ...] = (PgError, shred.ShredError, *graph_export.ERRORS,
                                         *object_store.ERRORS)
EXIT_CORRUPT, EXIT_NOT_EMPTY, EXIT_FAILED = 3, 4, 1


def restore_cmd(backup: Backup, force: Force = False, devstack: Devstack = None,
                storage_db: StorageDb = None, context_db: ContextDb = None,
                object_backend: ObjectBackend = None, object_root: ObjectRoot = None,
                s3_endpoint: S3Endpoint = None, s3_bucket: S3Bucket = None,
                s3_region: S3Region = None, s3_key: S3Key = None, s3_secret: S3Secret = None,
                graph_uri: GraphUri = None, graph_user: GraphUser = None,
                graph_password: GraphPassword = None, graph_databases: GraphDatabases = None,
                pg_bin: PgBin = None, redis_url: RedisUrl = None) -> None:
    """Restore a backup into an empty platform (checksums verified first)."""
    cfg = build_config(
        devstack=devstack, storage_db=storage_db, context_db=context_db,
        object_backend=object_backend, object_root=object_root, s3_endpoint=s3_endpoint,
        s3_bucket=s3_bucket, s3_region=s3_region, s3_key=s3_key, s3_secret=s3_secret,
        graph_uri=graph_uri, graph_user=graph_user, graph_password=graph_password,
        graph_databases=graph_databases, pg_bin=pg_bin, redis_url=redis_url)
    started = time.monotonic()
    try:
        manifest = Manifest.read(backup)
    except ManifestError as exc:
        console.print(f"[red]refused:[/red] {exc}")
        raise typer.Exit(EXIT_CORRUPT) from exc
    with bar() as progress:
        problems = verify(backup, manifest, progress)
    if problems:
        console.print(f"[red]refused: the backup does not match its manifest[/red] "
                      f"({len(problems)} problem(s)):")
        for line in problems[:20]:
            console.print(f"  {line}")
        raise typer.Exit(EXIT_CORRUPT)
    try:
        graphs = graph_targets(manifest, cfg)
    except graph_export.GraphExportError as exc:
        console.print(f"[red]refused:[/red] {exc}")
        raise typer.Exit(EXIT_NOT_EMPTY) from exc
    try:
        blockers = check_target(cfg, manifest, graphs)
    except FAILURES as exc:
        console.print(f"[red]cannot inspect the target:[/red] {exc}")
        raise typer.Exit(EXIT_FAILED) from exc
    refusals = [b for b in blockers if b.startswith("!")]
    data = [b for b in blockers if not b.startswith("!")]
    if refusals:
        console.print("[red]refused: the target platform does not fit the backup[/red]")
        for line in refusals:
            console.print(f"  {line[1:]}")
    if data and not force:
        console.print("[red]refused: the target platform is not empty[/red]")
        for line in data:
            console.print(f"  {line}")
        console.print("restore into an empty platform, or pass --force to replace it")
    if refusals or (data and not force):
        raise typer.Exit(EXIT_NOT_EMPTY)
    try:
        with bar() as progress:
            load(backup, manifest, cfg, graphs, progress, wipe_graphs=bool(data))
    except FAILURES as exc:
        console.print(f"[red]restore failed:[/red] {exc}")
        console.print("the target may be partly restored (each database is all or "
                      "nothing): fix the cause, then restore again with --force")
        raise typer.Exit(EXIT_FAILED) from exc
    if cfg.redis_url:
        try:
            typer.echo(f"graph caches purged: {caches.purge(cfg.redis_url)} key(s)")
        except redis.RedisError as exc:
            console.print(f"[yellow]graph caches not purged ({exc}): they expire within "
                          "their TTL (60 to 120 s)[/yellow]")
    _summary(manifest, backup, time.monotonic() - started)


def verify(root: Path, manifest: Manifest, progress: Progress) -> list[str]:
    """Every problem with the backup's files (empty when it is intact)."""
    advance = stepper(progress, "verify checksums", len(manifest.artifacts))
    problems = [f"{rel}: not in the manifest" for rel in manifest.unlisted(root)]
    for art in manifest.artifacts.values():
        why = verify_file(root, art)
        if why:
            problems.append(why)
        advance(1)
    return problems


def graph_targets(manifest: Manifest, cfg: PlatformConfig) -> dict[str, str]:
    """Backup graph database -> target database: as renamed (`--graph-databases a=b`),
    else the same names, or one database to one of another name (e.g. into Neo4j's
    `neo4j`). Two into one is refused: both graphs hold the household's Person nodes,
    and the key (tenant, id) is unique."""
    names = list(manifest.graph)
    renames = cfg.graph.renames
    if all(name in renames or name in cfg.graph.databases for name in names):
        mapping = {name: renames.get(name, name) for name in names}
        if len(set(mapping.values())) == len(mapping):
            return mapping
    if len(names) == 1 and len(cfg.graph.databases) == 1:
        return {names[0]: cfg.graph.databases[0]}
    raise graph_export.GraphExportError(
        f"the backup's graph databases ({', '.join(names)}) do not match the target's "
        f"({', '.join(cfg.graph.databases)}): give --graph-databases with the same names "
        "or BACKUP_NAME=TARGET_NAME pairs")


def check_target(cfg: PlatformConfig, manifest: Manifest, graphs: dict[str, str]) -> list[str]:
    """What stands in the way: data (refused without --force) and misfits (prefixed
    '!': refused always)."""
    found: list[str] = []
    for name, info in manifest.postgres.items():
        url = cfg.databases.get(name)
        if url is None:
            found.append(f"!no target for the {name} database")
            continue
        pg = Postgres(url, cfg.pg_bin)
        pg.check_privileged()
        missing = pg.missing_roles(list(info.get("roles", [])))
        if missing:
            found.append(f"!{name} database: roles missing on the target server: "
                         f"{', '.join(missing)} (create them as the platform does)")
        have = pg.alembic_revisions()
        if have and have != info["alembic"]:
            found.append(f"!{name} database: the target is at alembic {have}, the backup at "
                         f"{info['alembic']}: migrate the target to the backup's revision "
                         "or restore into an empty database")
        rows = pg.tables_with_rows()
        if rows:
            found.append(f"{name} database: rows in {len(rows)} table(s): "
                         f"{', '.join(rows[:8])}{' ...' if len(rows) > 8 else ''}")
    store = open_store(cfg.objects)
    count = sum(1 for _ in store.listing())
    if count:
        found.append(f"object store {store.describe()}: {count} payload(s)")
    driver = graph_export.connect(cfg.graph)
    try:
        for target in sorted(set(graphs.values())):
            nodes = graph_export.data_nodes(driver, target)
            if nodes:
                found.append(f"graph database {target}: {nodes} node(s)")
    finally:
        driver.close()
    return found


def load(root: Path, manifest: Manifest, cfg: PlatformConfig, graphs: dict[str, str],
         progress: Progress, wipe_graphs: bool) -> None:
    store = open_store(cfg.objects)
    objects = sorted(a.path for a in manifest.artifacts.values()
                     if a.path.startswith("objects/"))
    advance = stepper(progress, "objects", len(objects))
    for rel in objects:
        store.upload(rel.removeprefix("objects/"), root / rel)
        advance(1)
    for name, info in manifest.postgres.items():
        advance = stepper(progress, f"postgres {name}", 1)
        pg = Postgres(cfg.databases[name], cfg.pg_bin)
        pg.restore(root / info["file"])
        load_person_keys(pg, name, root, manifest)
        advance(1)
    driver = graph_export.connect(cfg.graph)
    try:
        if wipe_graphs:
            for target in sorted(set(graphs.values())):
                graph_export.wipe(driver, target)
        for name, target in graphs.items():
            info = manifest.graph[name]
            advance = stepper(progress, f"graph {name}",
                              int(info["nodes"]) + int(info["relationships"]))
            done = graph_export.import_database(driver, target, root / "graph", advance,
                                                source=name)
            if done["nodes"] != info["nodes"] or done["relationships"] != info["relationships"]:
                raise graph_export.GraphExportError(
                    f"graph {name}: loaded {done}, the manifest says {info}")
    finally:
        driver.close()


def load_person_keys(pg: Postgres, name: str, root: Path, manifest: Manifest) -> int:
    """The database's person data keys from the backup's key file (restored dump first:
    its table is there, empty); the rows loaded."""
    keys = manifest.person_keys.get("databases", {}).get(name)
    if keys is None:
        return 0
    columns = pg.columns(PERSON_KEYS_TABLE)
    if [list(c) for c in columns] != keys["columns"]:
        raise shred.ShredError(f"{name}: the restored {PERSON_KEYS_TABLE} has columns "
                               f"{columns}, the key file {keys['columns']}")
    loaded = pg.load_rows(PERSON_KEYS_TABLE, columns, shred.read_rows(root / keys["file"]))
    if loaded != keys["rows"]:
        raise shred.ShredError(f"{name}: loaded {loaded} person data key(s), the manifest "
                               f"says {keys['rows']}")
    return loaded


def _shredded(manifest: Manifest) -> None:
    """The persons whose keys were removed from the backup, and what the operator owes
    them now."""
    if not manifest.shredded:
        return
    console.print(f"[yellow]{len(manifest.shredded)} person(s) were erased after this "
                  "backup was taken and shredded from it:[/yellow]")
    for entry in manifest.shredded:
        typer.echo(f"  person {entry['person_id']} of household {entry['tenant_id']} "
                   f"(shredded {entry['at']}; keys removed: {entry['keys_removed']})")
    typer.echo("Their encrypted records cannot be decrypted, but their plaintext records "
               "(non-encrypted data in the dumps, graphs and objects) are restored: "
               "re-apply the erasures, once the services run, with "
               "`unison-admin erase-person PERSON --household HOUSEHOLD --receipt ...` "
               "for each person above.")


def _summary(manifest: Manifest, backup: Path, seconds: float) -> None:
    table = Table(title=f"restored {backup} (taken {manifest.created_at})")
    table.add_column("part")
    table.add_column("contents")
    for name, info in manifest.postgres.items():
        table.add_row(f"postgres {name}", ", ".join(
            f"{t}={'/'.join(v)}" for t, v in info["alembic"].items()) or "not migrated")
    for name, info in manifest.graph.items():
        table.add_row(f"graph {name}",
                      f"{info['nodes']} nodes, {info['relationships']} relationships")
    table.add_row("objects", f"{manifest.objects.get('count', 0)} payloads")
    console.print(table)
    for name, info in manifest.postgres.items():
        for kind, ids in info.get("keys", {}).items():
            if ids:
                typer.echo(f"{name} needs {kind.replace('_', ' ')}: {', '.join(ids)} "
                           "(the services' configured keys; never in a backup)")
    _shredded(manifest)
    typer.echo(f"restore complete: {seconds:.1f} s. Restart the services (fresh "
               "connection pools, no data keys cached in memory) before serving traffic.")
