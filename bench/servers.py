"""The real servers a benchmark measures, fresh in a temporary directory, stopped by PID:
PostgreSQL (fsync on), Redis and the storage service (uvicorn). The code measured is what
PYTHONPATH selects (another tree's `shared/src`, `services/storage/src`: docs/performance.md)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from unison_devstack.postgres import PostgresServer
from unison_devstack.procs import free_port, spawn, stop_pid, wait_until
from unison_devstack.redis import RedisServer

REPO_ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-hs256-secret-that-is-long-enough-for-hmac"
DATABASE = "storage_bench"
# One fixed key: every process of a run (and the in-process counter) shares it.
KEYRING = json.dumps({"current": "v1", "keys": {"v1": base64.b64encode(b"k" * 32).decode()}})


@dataclass
class Backends:
    root: Path
    postgres: PostgresServer = field(init=False)
    redis: RedisServer = field(init=False)

    def start(self) -> None:
        self.postgres = PostgresServer(self.root / "postgres", free_port(), fsync=True)
        self.postgres.start()
        self.redis = RedisServer(self.root / "redis", free_port())
        self.redis.start()
        self.postgres.ensure_database(DATABASE)
        # In a child, so the migrations are those of the tree PYTHONPATH selects.
        subprocess.run([sys.executable, "-c", "import sys; from unison_storage.cli import "
                        "run_migrations; run_migrations(sys.argv[1])", self.url()],
                       check=True, cwd=REPO_ROOT, capture_output=True)

    def url(self, driver: str = "postgresql+asyncpg") -> str:
        return self.postgres.url(DATABASE, driver=driver)

    def env(self) -> dict[str, str]:
        """The storage service's settings, for the server and the in-process counter."""
        return {**os.environ, "UNISON_ENVIRONMENT": "test", "UNISON_DATABASE_URL": self.url(),
                "UNISON_DATABASE_SYSTEM_URL": self.url(),
                "UNISON_REDIS_URL": self.redis.url, "UNISON_AUTH_HS256_SECRET": SECRET,
                "UNISON_STATE_DIR": str(self.root / "state"), "UNISON_KEK_KEYRING": KEYRING,
                "UNISON_LOG_LEVEL": "WARNING", "STORAGE_OBJECT_BACKEND": "fs",
                "STORAGE_OBJECT_FS_ROOT": str(self.root / "objects")}

    def stop(self) -> None:
        for server in (getattr(self, "redis", None), getattr(self, "postgres", None)):
            if server is not None:
                server.stop()


@dataclass
class StorageProcess:
    """`uvicorn unison_storage.main:create_app --factory` (uvloop, httptools)."""

    backends: Backends
    workers: int = 1
    port: int = field(default_factory=free_port)
    pid: int | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        cmd = [sys.executable, "-m", "uvicorn", "unison_storage.main:create_app", "--factory",
               "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers),
               "--loop", "uvloop", "--http", "httptools", "--no-access-log",
               "--log-level", "warning"]
        log = self.backends.root / "storage.log"
        self.pid = spawn(cmd, log, env=self.backends.env(), cwd=REPO_ROOT).pid
        wait_until(self._ready, 60, "storage service")

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.base_url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.pid is not None:
            stop_pid(self.pid)
            self.pid = None
