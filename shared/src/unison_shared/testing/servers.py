"""Where the test servers come from.

With a Docker engine (a developer's laptop), PostgreSQL and Redis run in containers via
testcontainers; without one (CI and the machines here), the packaged binaries run as
child processes. Both hide behind the same objects, so fixtures and tests do not know
which they got. SeaweedFS always runs from its package (a small static binary).
`UNISON_TEST_SERVERS=packages|containers` overrides the automatic choice.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unison_devstack.postgres import APP_ROLE, SUPERUSER, PostgresServer
from unison_devstack.procs import free_port
from unison_devstack.redis import RedisServer


def docker_available() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        return subprocess.run([docker, "info"], capture_output=True, timeout=5).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def use_containers() -> bool:
    choice = os.environ.get("UNISON_TEST_SERVERS", "auto")
    if choice == "containers":
        return True
    if choice == "packages":
        return False
    return docker_available()


@dataclass
class ContainerPostgres(PostgresServer):
    """PostgreSQL 18 with pgvector in a container, with the app role set up as on a local
    server."""

    container: Any = field(default=None, repr=False)

    def start(self) -> int:
        from testcontainers.community.postgres import PostgresContainer

        self.password = secrets.token_hex(12)
        self.container = PostgresContainer("pgvector/pgvector:pg18", username=SUPERUSER,
                                           password=self.password, dbname="postgres",
                                           driver=None)
        self.container.with_command("postgres -c max_connections=300 -c fsync=off")
        self.container.start()
        self.host = self.container.get_container_host_ip()
        self.port = int(self.container.get_exposed_port(5432))
        self.ensure_roles()
        return 0

    def stop(self) -> None:
        if self.container is not None:
            self.container.stop()


@dataclass
class ContainerRedis(RedisServer):
    container: Any = field(default=None, repr=False)
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def start(self) -> int:
        from testcontainers.community.redis import RedisContainer

        self.container = RedisContainer("redis:8")
        self.container.start()
        self.host = self.container.get_container_host_ip()
        self.port = int(self.container.get_exposed_port(6379))
        return 0

    def stop(self) -> None:
        if self.container is not None:
            self.container.stop()


def make_postgres(state_dir: Path) -> PostgresServer:
    if use_containers():
        return ContainerPostgres(state_dir / "postgres", 0)
    return PostgresServer(state_dir / "postgres", free_port(), fsync=False)


def make_redis(state_dir: Path) -> RedisServer:
    if use_containers():
        return ContainerRedis(state_dir / "redis", 0)
    return RedisServer(state_dir / "redis", free_port())


__all__ = ["APP_ROLE", "docker_available", "make_postgres", "make_redis", "use_containers"]
