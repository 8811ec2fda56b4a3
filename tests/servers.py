"""Real servers for the test session, started once each (local-servers.md).

Where a Docker engine answers, the same fixtures could use testcontainers; this machine
has none, so the packaged binaries are started as child processes on free ports in a
temporary directory, and stopped by PID at the end of the session.
"""

from __future__ import annotations

import shutil
import subprocess


def docker_available() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        return subprocess.run([docker, "info"], capture_output=True, timeout=5).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False
