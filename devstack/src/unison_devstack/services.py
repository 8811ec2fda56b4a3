"""Starting a service process of the local platform, idempotently: `up` starts what is
missing and leaves what is healthy (and says so)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import httpx

from .procs import port_open, spawn, write_pid


def start_service(state_dir: Path, name: str, app_factory: str, port: int,
                  env: dict[str, str], label: str) -> str:
    """A service process on `port` (uvicorn --factory), waited for until ready; or the
    one already serving there, left alone when its /healthz names it. Returns its URL."""
    url = f"http://127.0.0.1:{port}"
    if port_open(port):
        if serves(url, label):
            print(f"{name}: already running at {url}, left as it is", file=sys.stderr)
            return url
        raise RuntimeError(f"port {port} is taken by something that is not {label}: "
                           f"stop it or choose another port")
    log = state_dir / "logs" / f"{name}.log"
    proc = spawn([sys.executable, "-m", "uvicorn", app_factory, "--factory",
                  "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
                  "--log-level", "warning"], log, env=env)
    write_pid(state_dir / "pids" / f"{name}.pid", proc.pid)
    wait_ready(f"{url}/readyz", 60, log)
    return url


def serves(url: str, label: str) -> bool:
    try:
        answer = httpx.get(f"{url}/healthz", timeout=2)
        return answer.status_code == 200 and answer.json().get("service") == label
    except (httpx.HTTPError, ValueError):
        return False


def wait_ready(url: str, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            resp = httpx.get(url, timeout=2)
            if resp.status_code == 200:
                return
            last = f"{resp.status_code} {resp.text[:200]}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(0.3)
    raise RuntimeError(f"{url} not ready after {timeout:.0f}s ({last}); see {log}")
