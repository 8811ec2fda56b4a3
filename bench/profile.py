"""Where the server's time goes: py-spy samples a storage worker while the load
generator runs a scenario, and the collapsed stacks are folded into per-function own
(self) and total (inclusive) shares of the busy samples."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from .servers import BENCH_SECRET, REPO_ROOT, StorageProcess

_FRAME = re.compile(r"^(?P<fn>.*?) \((?P<file>[^:()]+)(?::\d+)?\)$")


def _short(frame: str) -> str:
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    path = m["file"]
    for marker in ("site-packages/", "/src/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{m['fn']} ({path})"


def _package(frame: str) -> str:
    """The library a frame belongs to: py-spy names files relative to their sys.path
    entry, so the first path part is the package (a bare file is a stdlib module)."""
    m = _FRAME.match(frame.strip())
    path = m["file"] if m else frame
    for marker in ("site-packages/", "/src/", "lib/python3.11/"):
        path = path.split(marker, 1)[-1]
    head, sep, _ = path.partition("/")
    return head if sep else path.removesuffix(".py")


def fold(collapsed: str, top: int = 25) -> dict[str, Any]:
    packages: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        raw_frames = [f for f in stack.split(";") if f]
        frames = [_short(f) for f in raw_frames]
        packages[_package(raw_frames[-1])] += n
        samples += n
        own[frames[-1]] += n
        for f in set(frames):
            total[f] += n
    pct = (lambda v: round(100 * v / samples, 1)) if samples else (lambda v: 0.0)
    return {"samples": samples,
            "top": [{"function": f, "self_pct": pct(n), "total_pct": pct(total[f])}
                    for f, n in own.most_common(top)],
            "top_total": [{"function": f, "total_pct": pct(n)}
                          for f, n in total.most_common(top * 2)],
            "packages": [{"package": p, "self_pct": pct(n)} for p, n in packages.most_common(15)]}


def profile_scenario(args: argparse.Namespace, server: StorageProcess, run_id: str,
                     conc: int) -> dict[str, Any]:
    """Sample one worker for the measured window of `args.profile` at `conc` clients."""
    pid = server.worker_pids()[0]
    out = server.backends.root / "profile.txt"
    spec = {"scenario": args.profile, "concurrency": conc, "seconds": args.seconds,
            "warmup": args.warmup, "base_url": server.base_url, "secret": BENCH_SECRET,
            "run_id": f"{run_id}-profile"}
    gen = subprocess.Popen([sys.executable, "-m", "bench.loadgen"], cwd=REPO_ROOT,
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert gen.stdin is not None
    gen.stdin.write(json.dumps(spec).encode())
    gen.stdin.close()
    spy = Path(sys.executable).parent / "py-spy"
    # Start sampling once the clients' setup and warm-up are over.
    time.sleep(args.warmup + 1.0)
    subprocess.run([str(spy), "record", "-p", str(pid), "-d", str(max(1, int(args.seconds) - 1)),
                    "-r", "250", "-f", "raw", "-o", str(out), "--nonblocking"],
                   capture_output=True, check=True,
                   timeout=args.seconds + args.warmup + 60)
    gen.wait(timeout=args.seconds * 4 + 120)
    folded = fold(out.read_text())
    folded["what"] = f"{args.profile} at {conc} clients, {server.workers} worker(s)"
    print(f"  profiled {folded['what']}: {folded['samples']} samples", flush=True)
    return folded
