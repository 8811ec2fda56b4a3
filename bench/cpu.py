"""CPU seconds spent by the server and by PostgreSQL during a scenario.

Throughput on a shared 2-core machine moves with whatever else runs; CPU time per
request barely does, so it is the figure to compare configurations and changes with.
"""

from __future__ import annotations

import contextlib

import psutil


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


class CpuMeter:
    """Snapshot the server workers' and the PostgreSQL processes' CPU; diff later."""

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
