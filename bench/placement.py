"""Where the run's programs execute, for `--pin`.

Unpinned (the default), the server, PostgreSQL and the load generator share every core
and the scheduler moves them at will: a request that waits on PostgreSQL competes with
PostgreSQL for the server's core, which the no-op floor never does. `--pin` gives the
process under test (the storage server, or the raw asyncpg client of a baseline) the
first core and everything else (PostgreSQL, Redis, the load generator) the others, the
way production runs the database on its own host. Both sides of every ratio are
measured with the same placement.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Placement:
    under_test: frozenset[int]
    others: frozenset[int]

    @classmethod
    def split(cls) -> Placement:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            raise SystemExit("--pin needs at least 2 CPUs")
        return cls(frozenset(cpus[:1]), frozenset(cpus[1:]))

    def describe(self) -> str:
        return (f"process under test on CPU {_cpulist(self.under_test)}; PostgreSQL, Redis "
                f"and the load generator on CPU {_cpulist(self.others)}")


def taskset(cpus: frozenset[int] | None) -> list[str]:
    """A command prefix that starts a program (and whatever it starts) on `cpus`."""
    return ["taskset", "-c", _cpulist(cpus)] if cpus else []


def pin_process_tree(pid: int, cpus: frozenset[int]) -> int:
    """Move a running program, its threads and its children to `cpus`; processes it
    starts later (PostgreSQL's backends) inherit the placement. Returns the threads moved."""
    import psutil

    moved = 0
    root = psutil.Process(pid)
    for proc in [root, *root.children(recursive=True)]:
        for task in Path(f"/proc/{proc.pid}/task").iterdir():
            try:
                os.sched_setaffinity(int(task.name), cpus)
                moved += 1
            except ProcessLookupError:
                continue
    return moved


def _cpulist(cpus: frozenset[int] | None) -> str:
    return ",".join(str(c) for c in sorted(cpus or ()))
