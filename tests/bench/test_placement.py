"""`bench.run --pin`: the placement it promises is the one the kernel applies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from bench.placement import Placement, pin_process_tree, taskset

CPUS = sorted(os.sched_getaffinity(0))
needs_two = pytest.mark.skipif(len(CPUS) < 2, reason="placement needs at least 2 CPUs")

# A parent that starts a child, then both wait: the tree pin_process_tree must move.
_TREE = ("import subprocess, sys, time; "
         "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)']); "
         "print(c.pid, flush=True); time.sleep(30)")


@needs_two
def test_split_gives_the_first_cpu_to_the_process_under_test() -> None:
    placement = Placement.split()
    assert placement.under_test == frozenset(CPUS[:1])
    assert placement.others == frozenset(CPUS[1:])
    assert not placement.under_test & placement.others


@needs_two
def test_taskset_prefix_starts_a_program_on_the_cpus() -> None:
    cpus = frozenset(CPUS[-1:])
    out = subprocess.run([*taskset(cpus), sys.executable, "-c",
                          "import os; print(sorted(os.sched_getaffinity(0)))"],
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == str(sorted(cpus))


def test_no_cpus_means_no_prefix() -> None:
    assert taskset(None) == []


@needs_two
def test_pin_process_tree_moves_a_running_parent_and_its_child() -> None:
    parent = subprocess.Popen([sys.executable, "-c", _TREE], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    try:
        target = frozenset(CPUS[-1:])
        assert pin_process_tree(parent.pid, target) >= 2
        assert os.sched_getaffinity(parent.pid) == target
        assert os.sched_getaffinity(child) == target
    finally:
        os.kill(child, signal.SIGKILL)
        parent.kill()
        parent.wait()
