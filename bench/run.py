"""Throughput in one run on one machine: `python -m bench.run` (`make bench`).

Its own PostgreSQL (fsync on), Redis and storage server; at each client count the raw
driver (bench.rawpg), then each route with wrk right after the no-op floor (GET
/v1/whoami) measured the same way. Prints the table, writes bench/results/<run>.json."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import report, wrk
from .scenarios import SCENARIOS
from .servers import REPO_ROOT, Backends, StorageProcess

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def raw_driver(backends: Backends, op: str, conc: int, args: argparse.Namespace) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "bench.rawpg", op, str(conc), str(args.seconds),
                           str(args.warmup), backends.url(driver="postgresql")],
                          capture_output=True, text=True, cwd=REPO_ROOT, check=False,
                          timeout=args.seconds + args.warmup + 120)
    if proc.returncode != 0:
        raise RuntimeError(f"bench.rawpg failed: {proc.stderr[-1500:]}")
    r: dict[str, Any] = json.loads(proc.stdout)
    print(f"  raw {op:5s} x{conc:<3d} {r['rps']:>9,.0f}/s  p99 {r['p99_ms']} ms", flush=True)
    return r


def measure(base_url: str, name: str, conc: int, args: argparse.Namespace) -> dict[str, Any]:
    if args.warmup > 0:
        wrk.run(base_url, SCENARIOS[name], conc, args.warmup)
    return wrk.run(base_url, SCENARIOS[name], conc, args.seconds)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    p.add_argument("--seconds", type=float, default=4.0, help="measured seconds per row")
    p.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before it")
    p.add_argument("--concurrency", default="1,16", help="client counts, comma-separated")
    p.add_argument("--scenarios", default=",".join(SCENARIOS))
    p.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = p.parse_args(argv)
    names = [s for s in args.scenarios.split(",") if s]
    if unknown := set(names) - set(SCENARIOS):
        p.error(f"unknown scenarios {sorted(unknown)}; known: {sorted(SCENARIOS)}")
    concs = [int(c) for c in args.concurrency.split(",")]
    root = Path(tempfile.mkdtemp(prefix="unison-bench-"))
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown CPU")
    data: dict[str, Any] = {
        "run_id": time.strftime("%Y%m%d-%H%M%S"), "seconds": args.seconds,
        "warmup": args.warmup, "http": [], "raw": {"read": {}, "write": {}},
        "machine": {"cpu": cpu, "cores": os.cpu_count(),
                    "loadavg_start": [round(x, 2) for x in os.getloadavg()]}}
    backends = Backends(root)
    server = StorageProcess(backends, args.workers)
    try:
        print(f"starting PostgreSQL (fsync on), Redis and the service in {root}", flush=True)
        backends.start()
        server.start()
        for conc in concs:
            for op in ("read", "write"):
                data["raw"][op][conc] = raw_driver(backends, op, conc, args)
            for name in names:
                floor = None if name == "whoami" else measure(server.base_url, "whoami",
                                                              conc, args)
                r = measure(server.base_url, name, conc, args)
                raw_op = "read" if SCENARIOS[name].method == "GET" else "write"
                r.update(floor_rps=(floor or r)["rps"], raw_op=raw_op,
                         raw_rps=data["raw"][raw_op][conc]["rps"])
                r["ratio"] = round(r["rps"] / r["floor_rps"], 3) if r["floor_rps"] else 0.0
                print(f"  {name:16s} x{conc:<3d} {r['rps']:>9,.0f}/s  floor "
                      f"{r['floor_rps']:,.0f}/s  ratio {r['ratio']:.2f}  p99 {r['p99_ms']} ms  "
                      f"errors {r['errors']}", flush=True)
                data["http"].append(r)
    finally:
        server.stop()
        backends.stop()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    data["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / f"{data['run_id']}.json"
    out.write_text(json.dumps(data, indent=2))
    print("\n" + report.markdown(data) + f"\n\nresults: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
