"""CPU seconds spent by the server and by PostgreSQL during a scenario; instructions
executed by a process (for `bench.instructions`).

Throughput on a shared 2-core machine moves with whatever else runs; CPU time per
request moves less, and the instruction count (Linux `perf stat`, hardware counter)
hardly at all: repeated in-process runs of one request agree within 1%, where CPU time
moved by a third. It is the figure to compare code changes with; throughput remains the
figure the targets are stated in.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import signal
import subprocess
import time

import psutil

_PERF_COUNT = re.compile(r"^\s*(\d+),[^,]*,instructions", re.M)


def _cpu(pids: list[int], with_children: bool) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc = psutil.Process(pid)
            procs = [proc, *proc.children(recursive=True)] if with_children else [proc]
            for p in procs:
                with contextlib.suppress(psutil.NoSuchProcess):
                    t = p.cpu_times()
                    total += t.user + t.system
    return total


class InstructionCounter:
    """`perf stat -e instructions` attached to the given processes until `stop`; None
    (with the reason in `missing`) where perf or the hardware counter is unavailable."""

    missing: str | None = None

    def __init__(self, pids: list[int]) -> None:
        self._proc: subprocess.Popen[str] | None = None
        perf = shutil.which("perf")
        if perf is None:
            InstructionCounter.missing = "perf is not installed (Debian: linux-perf)"
            return
        self._proc = subprocess.Popen(
            [perf, "stat", "-x", ",", "-e", "instructions", "-p",
             ",".join(str(p) for p in pids)], stderr=subprocess.PIPE, text=True)
        time.sleep(0.2)  # attached before the load starts

    def stop(self) -> int | None:
        if self._proc is None:
            return None
        self._proc.send_signal(signal.SIGINT)
        try:
            _, err = self._proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            InstructionCounter.missing = "perf stat did not stop"
            return None
        m = _PERF_COUNT.search(err)
        if m is None:
            InstructionCounter.missing = f"perf stat: {err.strip()[-160:]}"
            return None
        return int(m.group(1))


class CpuMeter:
    """Snapshot the server workers' and the PostgreSQL processes' CPU; diff later.

    (It does not count instructions: with `perf stat` attached to the server during
    the throughput scenarios, whoami ran at 1,012-1,592 req/s against 1,135-2,445 in the
    runs around it, a slowdown the host's noise kept us from confirming or ruling out.
    `bench.instructions` counts them in-process, where no throughput is measured.)"""

    def __init__(self, server_pids: list[int], postgres_pid: int) -> None:
        self.server_pids = server_pids
        self.postgres_pid = postgres_pid
        self.server0 = _cpu(server_pids, with_children=False)
        self.pg0 = _cpu([postgres_pid], with_children=True)

    def per_request(self, requests: int) -> dict[str, float]:
        server = _cpu(self.server_pids, with_children=False) - self.server0
        pg = _cpu([self.postgres_pid], with_children=True) - self.pg0
        n = max(1, requests)
        return {"server_cpu_s": round(server, 2), "postgres_cpu_s": round(pg, 2),
                "server_cpu_us_per_req": round(server / n * 1e6),
                "postgres_cpu_us_per_req": round(pg / n * 1e6)}
