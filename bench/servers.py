"""The real servers a benchmark run measures: PostgreSQL (fsync on), Redis, and the
storage service as its own uvicorn process, all in one temporary directory.

Everything is started fresh per run and stopped by PID, so a run never touches the
developer's `make up` state or the test session's servers.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from unison_devstack.postgres import PostgresServer
from unison_devstack.procs import free_port, spawn, stop_pid, wait_until
from unison_devstack.redis import RedisServer

from .placement import taskset

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCH_SECRET = "bench-hs256-secret-that-is-long-enough-for-hmac"
STORAGE_DB = "storage_bench"
RAW_DB = "raw_bench"


@dataclass
class Backends:
    """PostgreSQL and Redis for the whole run; each server configuration reuses them."""

    root: Path
    postgres: PostgresServer = field(init=False)
    redis: RedisServer = field(init=False)

    def start(self) -> None:
        # fsync and synchronous_commit on: commits are as durable as in production.
        self.postgres = PostgresServer(self.root / "postgres", free_port(), fsync=True)
        self.postgres.start()
        # pg_stat_statements counts the statements (round trips) each request costs.
        self.postgres.psql("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
        self.postgres.stop()
        self.postgres.start()
        self.redis = RedisServer(self.root / "redis", free_port())
        self.redis.start()
        from unison_storage.cli import run_migrations

        for name in (STORAGE_DB, RAW_DB):
            self.postgres.ensure_database(name)
        run_migrations(self.postgres.url(STORAGE_DB))
        self.postgres.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", STORAGE_DB)

    def redis_pid(self) -> int:
        assert self.redis.process is not None
        return self.redis.process.pid

    def reset_statements(self) -> None:
        self.postgres.psql("SELECT pg_stat_statements_reset()", STORAGE_DB)

    def statements(self) -> list[tuple[int, str]]:
        """(calls, query) of every statement the storage database ran since the reset."""
        out = self.postgres.psql(
            "SELECT calls, regexp_replace(query, '\\s+', ' ', 'g') FROM pg_stat_statements "
            "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND query NOT LIKE '%pg_stat_statements%' ORDER BY calls DESC", STORAGE_DB)
        rows = []
        for line in out.splitlines():
            calls, _, query = line.partition("|")
            if calls.isdigit():
                rows.append((int(calls), query))
        return rows

    @property
    def raw_dsn(self) -> str:
        return self.postgres.url(RAW_DB, driver="postgresql")

    @property
    def storage_dsn(self) -> str:
        return self.postgres.url(STORAGE_DB, driver="postgresql")

    def stop(self) -> None:
        for server in (getattr(self, "redis", None), getattr(self, "postgres", None)):
            if server is not None:
                server.stop()


@dataclass
class StorageProcess:
    """`uvicorn unison_storage.main:create_app --factory` with N workers."""

    backends: Backends
    workers: int
    objects_dir: Path
    app: str = "unison_storage.main:create_app"
    cpus: frozenset[int] | None = None
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        # An inline keyring: with several workers, each would otherwise race to
        # generate the dev keyring file.
        keyring = json.dumps({"current": "v1",
                              "keys": {"v1": base64.b64encode(secrets.token_bytes(32)).decode()}})
        return {
            "UNISON_ENVIRONMENT": "test",
            "UNISON_DATABASE_URL": self.backends.postgres.url(STORAGE_DB),
            "UNISON_REDIS_URL": self.backends.redis.url,
            "UNISON_STATE_DIR": str(self.backends.root / "storage-state"),
            "UNISON_AUTH_HS256_SECRET": BENCH_SECRET,
            "UNISON_KEK_KEYRING": keyring,
            "UNISON_LOG_LEVEL": "WARNING",
            "STORAGE_OBJECT_BACKEND": "fs",
            "STORAGE_OBJECT_FS_ROOT": str(self.objects_dir),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT),
                                                         os.environ.get("PYTHONPATH")])),
        }

    def start(self) -> int:
        self.objects_dir.mkdir(parents=True, exist_ok=True)
        cmd = [*taskset(self.cpus), sys.executable, "-m", "uvicorn", self.app, "--factory",
               "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers),
               "--loop", "uvloop", "--http", "httptools", "--no-access-log",
               "--log-level", "warning"]
        log = self.backends.root / f"storage-w{self.workers}.log"
        self.process = spawn(cmd, log, env=self.env(), cwd=REPO_ROOT)
        wait_until(self._ready, 60, f"storage service ({self.workers} workers)")
        # With several workers, the first answers before the others have started.
        if self.workers > 1:
            time.sleep(1.5)
        return self.process.pid

    def _ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"storage service exited with {self.process.returncode}; "
                               f"see {self.backends.root}")
        try:
            return httpx.get(f"{self.base_url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def process_pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def worker_pids(self) -> list[int]:
        """The processes that serve requests: the workers, or the single process."""
        assert self.process is not None
        import psutil

        parent = psutil.Process(self.process.pid)
        # uvicorn's workers are multiprocessing children (`spawn_main`); skip the
        # resource tracker beside them.
        children = [c.pid for c in parent.children(recursive=True)
                    if "spawn_main" in " ".join(c.cmdline())]
        return children if self.workers > 1 and children else [self.process.pid]

    def stop(self) -> None:
        if self.process is not None:
            stop_pid(self.process.pid)
            self.process = None
