"""The graph part of `make up` / `make down`: ArcadeDB (Bolt) and the context-graph and
intent-graph services, as background processes tracked by PID files.

Ports: DEVSTACK_ARCADEDB_HTTP_PORT (52480), DEVSTACK_BOLT_PORT (57687),
DEVSTACK_CONTEXT_GRAPH_PORT (8091), DEVSTACK_INTENT_GRAPH_PORT (8089). Each service
gets its own database on the one ArcadeDB server (`context`, `intent`); their Cypher
migrations are applied before they start.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from .arcadedb import ArcadeDBServer
from .procs import port_open, stop_pid_file, write_pid
from .services import start_service

GRAPH_SERVICES = (
    # name, package, database, port variable, default port
    ("context-graph", "unison_context_graph", "context", "DEVSTACK_CONTEXT_GRAPH_PORT", 8091),
    ("intent-graph", "unison_intent_graph", "intent", "DEVSTACK_INTENT_GRAPH_PORT", 8089),
)


def _port(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _password(state_dir: Path) -> str:
    path = state_dir / "secrets" / "arcadedb"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(18))
    return path.read_text().strip()


def arcadedb_server(state_dir: Path) -> ArcadeDBServer:
    return ArcadeDBServer(state_dir / "arcadedb", _port("DEVSTACK_ARCADEDB_HTTP_PORT", 52480),
                          _port("DEVSTACK_BOLT_PORT", 57687), password=_password(state_dir))


def service_env(server: ArcadeDBServer, database: str, *, redis_url: str, storage_url: str,
                hs256_secret: str) -> dict[str, str]:
    return {
        "UNISON_ENVIRONMENT": "dev",
        "UNISON_GRAPH_URI": server.bolt_url,
        "UNISON_GRAPH_USER": "root",
        "UNISON_GRAPH_PASSWORD": server.password,
        "UNISON_GRAPH_DATABASE": database,
        "UNISON_GRAPH_DIALECT": "arcadedb",
        "UNISON_REDIS_URL": redis_url,
        "UNISON_STORAGE_URL": storage_url,
        "UNISON_AUTH_HS256_SECRET": hs256_secret,
    }


def up(state_dir: Path, *, redis_url: str, storage_url: str,
       hs256_secret: str) -> dict[str, str]:
    """Start ArcadeDB (unless its port answers), migrate, start both services."""
    pids = state_dir / "pids"
    server = arcadedb_server(state_dir)
    if not port_open(server.bolt_port):
        write_pid(pids / "arcadedb.pid", server.start())
    urls = {"bolt": server.bolt_url}
    for name, package, database, port_var, default in GRAPH_SERVICES:
        port = _port(port_var, default)
        server.ensure_database(database)
        env = {**os.environ, **service_env(server, database, redis_url=redis_url,
                                            storage_url=storage_url,
                                            hs256_secret=hs256_secret)}
        subprocess.run([sys.executable, "-m", f"{package}.cli", "migrate"], env=env,
                       check=True, capture_output=True, timeout=120)
        urls[name] = start_service(state_dir, name, f"{package}.main:create_app", port, env,
                                   f"unison-{name}")
    return urls


def down(state_dir: Path) -> list[str]:
    stopped = []
    for name in ("context-graph", "intent-graph", "arcadedb"):
        if stop_pid_file(state_dir / "pids" / f"{name}.pid"):
            stopped.append(name)
    return stopped
