"""The Docker-free local platform: real PostgreSQL and Redis from packages, migrations,
and the services as background processes. State lives under one directory."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from . import graph_stack
from .postgres import PostgresServer
from .procs import port_open, stop_pid, stop_pid_file, write_pid
from .redis import RedisServer
from .seaweedfs import ACCESS_KEY, SECRET_KEY, SeaweedServer
from .services import start_service

STORAGE_DB = "storage"
CONTEXT_DB = "context"


@dataclass(frozen=True)
class StackConfig:
    state_dir: Path
    postgres_port: int = 55432
    redis_port: int = 56379
    storage_port: int = 8082
    # "fs" (local disk) or "s3" (a local SeaweedFS, as production's S3 would be)
    object_backend: str = "fs"
    s3_port: int = 58333
    context_port: int = 8081

    @classmethod
    def from_env(cls, state_dir: Path) -> StackConfig:
        env = os.environ
        return cls(
            state_dir=state_dir.resolve(),
            postgres_port=int(env.get("DEVSTACK_POSTGRES_PORT", 55432)),
            redis_port=int(env.get("DEVSTACK_REDIS_PORT", 56379)),
            storage_port=int(env.get("DEVSTACK_STORAGE_PORT", 8082)),
            object_backend=env.get("DEVSTACK_OBJECT_BACKEND", "fs"),
            s3_port=int(env.get("DEVSTACK_S3_PORT", 58333)),
            context_port=int(env.get("DEVSTACK_CONTEXT_PORT", 8081)),
        )

    @property
    def pids(self) -> Path:
        return self.state_dir / "pids"

    @property
    def logs(self) -> Path:
        return self.state_dir / "logs"


def dev_secret(cfg: StackConfig) -> str:
    """The HS256 secret: UNISON_AUTH_HS256_SECRET when set, else one generated once."""
    configured = os.environ.get("UNISON_AUTH_HS256_SECRET")
    if configured:
        return configured
    path = cfg.state_dir / "secrets" / "hs256"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def signing_key_path(state_dir: Path) -> Path:
    """Where the platform's Ed25519 signing key lives (erasure receipts; unison-admin
    reads it through UNISON_PLATFORM_SIGNING_KEY_FILE)."""
    return state_dir.resolve() / "secrets" / "platform-signing.pem"


def ensure_signing_key(state_dir: Path) -> Path:
    """The platform signing key (Ed25519, PEM, PKCS8), created once with mode 0600 and
    never replaced: receipts already issued stay verifiable with its public key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = signing_key_path(state_dir)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another `up` made it first: keep that one
        return path
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return path


def object_store_env(cfg: StackConfig) -> dict[str, str]:
    if cfg.object_backend == "fs":
        return {"STORAGE_OBJECT_BACKEND": "fs",
                "STORAGE_OBJECT_FS_ROOT": str(cfg.state_dir / "objects")}
    if cfg.object_backend == "s3":
        return {"STORAGE_OBJECT_BACKEND": "s3",
                "STORAGE_S3_ENDPOINT_URL": f"http://127.0.0.1:{cfg.s3_port}",
                "STORAGE_S3_ACCESS_KEY_ID": ACCESS_KEY,
                "STORAGE_S3_SECRET_ACCESS_KEY": SECRET_KEY}
    raise ValueError(f"DEVSTACK_OBJECT_BACKEND must be fs or s3, not {cfg.object_backend!r}")


def storage_env(cfg: StackConfig, urls: dict[str, str], redis: RedisServer) -> dict[str, str]:
    return {
        "UNISON_ENVIRONMENT": "dev",
        "UNISON_DATABASE_URL": urls["runtime"],
        "UNISON_DATABASE_SYSTEM_URL": urls["system"],
        "UNISON_REDIS_URL": redis.url,
        "UNISON_STATE_DIR": str(cfg.state_dir / "storage"),
        "UNISON_AUTH_HS256_SECRET": dev_secret(cfg),
        **object_store_env(cfg),
    }


def context_env(cfg: StackConfig, urls: dict[str, str]) -> dict[str, str]:
    return {
        "UNISON_ENVIRONMENT": "dev",
        "UNISON_DATABASE_URL": urls["runtime"],
        "UNISON_DATABASE_SYSTEM_URL": urls["system"],
        "UNISON_STATE_DIR": str(cfg.state_dir / "context"),
        "UNISON_AUTH_HS256_SECRET": dev_secret(cfg),
    }


def start_context(cfg: StackConfig, pg: PostgresServer) -> str:
    """The context database (migrated) and the context service; returns its URL."""
    from unison_context.cli import run_migrations as migrate_context

    pg.ensure_database(CONTEXT_DB)
    urls = pg.urls(CONTEXT_DB)
    migrate_context(urls["owner"])
    return start_service(cfg.state_dir, "context", "unison_context.main:create_app",
                         cfg.context_port, context_env(cfg, urls), "unison-context")


def up(cfg: StackConfig) -> dict[str, str]:
    from unison_storage.cli import run_migrations

    object_store_env(cfg)  # refuse an unknown backend before starting anything
    cfg.state_dir.mkdir(parents=True, exist_ok=True)
    ensure_signing_key(cfg.state_dir)
    pg = PostgresServer(cfg.state_dir / "postgres", cfg.postgres_port)
    if not port_open(cfg.postgres_port):
        pg.start()
    pg.ensure_roles()  # also on a server an older `up` started
    pg.ensure_database(STORAGE_DB)
    storage_urls = pg.urls(STORAGE_DB)
    shown = {"postgres": pg.url(STORAGE_DB, driver="postgresql")}
    run_migrations(storage_urls["owner"])

    redis = RedisServer(cfg.state_dir / "redis", cfg.redis_port)
    if not port_open(cfg.redis_port):
        write_pid(cfg.pids / "redis.pid", redis.start())

    urls: dict[str, str] = {}
    if cfg.object_backend == "s3":
        seaweed = SeaweedServer(cfg.state_dir / "seaweedfs", cfg.s3_port)
        if not port_open(cfg.s3_port):
            write_pid(cfg.pids / "seaweedfs.pid", seaweed.start())
        urls["s3"] = seaweed.endpoint

    start_service(cfg.state_dir, "storage", "unison_storage.main:create_app",
                  cfg.storage_port, storage_env(cfg, storage_urls, redis), "unison-storage")
    urls["context"] = start_context(cfg, pg)
    urls.update(graph_stack.up(cfg.state_dir, redis_url=redis.url,
                               storage_url=f"http://127.0.0.1:{cfg.storage_port}",
                               hs256_secret=dev_secret(cfg)))
    return {"storage": f"http://127.0.0.1:{cfg.storage_port}", **shown, "redis": redis.url,
            **urls}


def down(cfg: StackConfig) -> list[str]:
    stopped = []
    for name in ("storage", "context", "redis", "seaweedfs"):
        if stop_pid_file(cfg.pids / f"{name}.pid"):
            stopped.append(name)
    stopped += graph_stack.down(cfg.state_dir)
    pg = PostgresServer(cfg.state_dir / "postgres", cfg.postgres_port)
    if (pg.pgdata / "postmaster.pid").exists():
        stop_pid(pg.pid())
        stopped.append("postgres")
    return stopped
