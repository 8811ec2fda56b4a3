"""One command, one run, one machine: `uv run python -m bench.run`.

Starts its own PostgreSQL (fsync on), Redis and storage service; measures raw asyncpg
baselines, the no-op floor (GET /v1/whoami) and every HTTP scenario at 1 and 16 clients,
with each load generator in its own process; then object upload against dd to the same
disk. Writes bench/results/<run>.json and prints markdown tables with the targets.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import report
from .cpu import CpuMeter
from .placement import Placement, pin_process_tree, taskset
from .servers import BENCH_SECRET, REPO_ROOT, Backends, StorageProcess
from .wrkgen import wrk_path

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_SCENARIOS = ["whoami", "kv_cas_write", "kv_read", "memory_write", "memory_read",
                     "vault_write", "vault_read", "audit_append"]


def _child(module: str, spec: dict[str, Any], timeout: float,
           cpus: frozenset[int] | None = None) -> dict[str, Any]:
    """Run a generator module in its own Python process (on `cpus` when given); it
    answers one JSON object."""
    proc = subprocess.run([*taskset(cpus), sys.executable, "-m", module],
                          input=json.dumps(spec).encode(),
                          capture_output=True, cwd=REPO_ROOT, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{module} failed: {proc.stderr.decode()[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def machine_info(pg_version: str, disk_dir: Path) -> dict[str, Any]:
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    df = subprocess.run(["df", "-h", "--output=source,fstype,size", str(disk_dir)],
                        capture_output=True, text=True, check=False).stdout.splitlines()[-1]
    info = {"cpu": cpu, "cores": os.cpu_count(), "mem_gib": round(mem_gib, 1),
            "kernel": platform.release(), "python": platform.python_version(),
            "postgres": pg_version, "disk": " ".join(df.split())}
    info["summary"] = (f"{info['cores']} x {cpu}, {info['mem_gib']} GiB RAM, Linux "
                       f"{info['kernel']}, Python {info['python']}, {pg_version}, "
                       f"disk {info['disk']}")
    return info


def run_baselines(args: argparse.Namespace, backends: Backends, run_id: str,
                  concs: list[int]) -> list[dict[str, Any]]:
    results = []
    for op in args.baselines:
        for conc in concs:
            spec = {"op": op, "concurrency": conc, "seconds": args.seconds,
                    "warmup": args.warmup, "raw_dsn": backends.raw_dsn,
                    "storage_dsn": backends.storage_dsn, "run_id": run_id}
            r = _child("bench.pgbase", spec, args.seconds * 4 + 120,
                       args.placement.under_test if args.placement else None)
            print(f"  raw {op:12s} x{conc:<3d} {r['rps']:>9.1f}/s  p99 {r['p99_ms']} ms",
                  flush=True)
            results.append(r)
    return results


def run_http(args: argparse.Namespace, server: StorageProcess, run_id: str,
             concs: list[int], skipped: list[str]) -> list[dict[str, Any]]:
    results = []
    loadgen_cpus = args.placement.others if args.placement else None
    for scenario in args.scenarios:
        for conc in concs:
            spec = {"scenario": scenario, "concurrency": conc, "seconds": args.seconds,
                    "warmup": args.warmup, "base_url": server.base_url,
                    "secret": BENCH_SECRET, "run_id": f"{run_id}-w{server.workers}-{conc}"}
            paired = None
            if scenario != "whoami" and args.paired_floor:
                # The machine's speed drifts over tens of seconds: a floor measured just
                # before the scenario gives the ratio a baseline under the same conditions.
                floor_spec = {**spec, "scenario": "whoami", "run_id": spec["run_id"] + "-f"}
                paired = _child(f"bench.{args.loadgen_module}", floor_spec,
                                args.seconds * 4 + 120, loadgen_cpus)
            server.backends.reset_statements()
            meter = CpuMeter(server.worker_pids(), server.backends.postgres.pid())
            try:
                r = _child(f"bench.{args.loadgen_module}", spec, args.seconds * 4 + 120,
                           loadgen_cpus)
                if paired is not None:
                    r["paired_floor_rps"] = paired["rps"]
                    r["paired_floor_p99_ms"] = paired["p99_ms"]
            except RuntimeError as exc:
                last = str(exc).strip().splitlines()[-1][:200]
                note = f"{scenario} x{conc} ({server.workers} worker(s)): {last}"
                print(f"  SKIPPED {note}", flush=True)
                skipped.append(note)
                continue
            r.update(meter.per_request(r["http_requests_total"]))
            r["sql"] = sql_per_request(server.backends.statements(), r["http_requests_total"])
            print(f"  {scenario:14s} x{conc:<3d} {r['rps']:>9.1f}/s  p99 {r['p99_ms']} ms  "
                  f"412s {r['conflicts']}  errors {r['errors']}  server "
                  f"{r['server_cpu_us_per_req']} us/req", flush=True)
            results.append(r)
    return results


def cpu_probe() -> float:
    """How fast this machine runs Python right now: the best of 5 timings of
    `sum(range(1000))` in µs (27.6 on a quiet run here, 36 with a busy host). The host's
    other tenants move every figure of a run; this makes runs comparable after the fact."""
    import timeit

    return round(min(timeit.repeat("sum(range(1000))", number=2000, repeat=5)) / 2000 * 1e6,
                 1)


def sql_per_request(rows: list[tuple[int, str]], requests: int) -> dict[str, Any]:
    """Statements (each one round trip to PostgreSQL) per HTTP request, by statement."""
    if not requests:
        return {"per_request": 0.0, "top": []}
    per = [(round(calls / requests, 2), query[:140]) for calls, query in rows]
    return {"per_request": round(sum(calls for calls, _ in rows) / requests, 2),
            "top": [{"per_request": n, "query": q} for n, q in per if n >= 0.05][:10]}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    p.add_argument("--seconds", type=float, default=4.0, help="measured seconds per scenario")
    p.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before it")
    p.add_argument("--concurrency", default="1,16", help="client counts, comma-separated")
    p.add_argument("--workers", default="1,2", help="uvicorn worker counts to measure")
    p.add_argument("--scenarios", default=",".join(DEFAULT_SCENARIOS))
    p.add_argument("--baselines", default="insert,select,kv_tx_write,kv_tx_read")
    p.add_argument("--object-mib", type=int, default=256, help="0 skips the upload test")
    p.add_argument("--only-upload", action="store_true",
                   help="skip the baselines and HTTP scenarios: only upload vs dd")
    p.add_argument("--upload-rounds", type=int, default=3,
                   help="alternating dd/upload rounds (the median ratio is the figure)")
    p.add_argument("--profile", default="",
                   help="SCENARIO to sample with py-spy at the highest concurrency")
    p.add_argument("--app", default="unison_storage.main:create_app",
                   help="uvicorn factory to serve, for A/B experiments (module:function)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    p.add_argument("--no-paired-floor", dest="paired_floor", action="store_false",
                   help="compare with the one whoami row instead of a floor measured "
                        "right before each scenario")
    p.add_argument("--pin", action="store_true",
                   help="the server (or a baseline's asyncpg client) on the first CPU; "
                        "PostgreSQL, Redis and the load generator on the others (one worker)")
    p.add_argument("--loadgen", choices=["auto", "wrk", "python"], default="auto",
                   help="HTTP load generator: wrk (C) or the aiohttp client; auto = wrk "
                        "when installed")
    args = p.parse_args(argv)
    if args.loadgen == "auto":
        args.loadgen = "wrk" if wrk_path() else "python"
        if args.loadgen == "python":
            print("wrk not found: HTTP load comes from the Python client, which takes "
                  "CPU from the server on a small machine (apt-get install wrk)", flush=True)
    elif args.loadgen == "wrk" and not wrk_path():
        p.error("--loadgen wrk: wrk is not installed (apt-get install wrk)")
    args.loadgen_module = "wrkgen" if args.loadgen == "wrk" else "loadgen"
    args.placement = Placement.split() if args.pin else None
    if args.pin and args.workers != "1":
        p.error("--pin gives the server one CPU: use it with --workers 1")
    args.scenarios = [s for s in args.scenarios.split(",") if s]
    args.baselines = [s for s in args.baselines.split(",") if s]
    if args.only_upload:
        if not args.object_mib:
            p.error("--only-upload needs --object-mib > 0")
        args.scenarios, args.baselines, args.profile = [], [], ""
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    concs = [int(c) for c in args.concurrency.split(",")]
    workers = [int(w) for w in args.workers.split(",")]
    run_id = time.strftime("%Y%m%d-%H%M%S")
    root = Path(tempfile.mkdtemp(prefix="unison-bench-"))
    backends = Backends(root)
    data: dict[str, Any] = {"run_id": run_id, "config": {
        "seconds": args.seconds, "warmup": args.warmup, "concurrency": concs,
        "workers": workers, "loadgen": args.loadgen, "paired_floor": args.paired_floor,
        "placement": args.placement.describe() if args.placement else "unpinned",
        "command": "uv run python -m bench.run " + " ".join(
            sys.argv[1:] if argv is None else argv)}, "http": {}, "skipped": []}
    started = time.monotonic()
    try:
        print(f"starting PostgreSQL (fsync on) and Redis in {root}", flush=True)
        backends.start()
        if args.placement:
            for pid in (backends.postgres.pid(), backends.redis_pid()):
                pin_process_tree(pid, args.placement.others)
            print(f"placement: {args.placement.describe()}", flush=True)
        pg_version = backends.postgres.psql("SHOW server_version").strip()
        data["machine"] = machine_info(f"PostgreSQL {pg_version}", root)
        # Other work on the machine moves every figure: record how busy it was.
        data["machine"]["loadavg_start"] = [round(x, 2) for x in os.getloadavg()]
        data["machine"]["cpu_probe_us_start"] = cpu_probe()
        print("raw asyncpg baselines", flush=True)
        data["baselines"] = run_baselines(args, backends, run_id, concs)
        for w in workers[:1] if args.only_upload else workers:
            config = f"{w} worker" + ("s" if w > 1 else "")
            if args.app != "unison_storage.main:create_app":
                config += f" ({args.app.rsplit(':', 1)[-1]})"
            server = StorageProcess(backends, w, root / "objects", args.app,
                                    cpus=args.placement.under_test if args.placement else None)
            server.start()
            try:
                print(f"storage service, {config}", flush=True)
                data["http"][config] = run_http(args, server, run_id, concs, data["skipped"])
                if args.profile and w == workers[0]:
                    from .profile import profile_scenario
                    data["profile"] = profile_scenario(args, server, run_id, max(concs))
                if args.object_mib and w == workers[0]:
                    from .upload import measure_objects

                    if args.placement:
                        # The upload compares with dd, which no placement constrains.
                        pin_process_tree(server.process_pid(), frozenset(os.sched_getaffinity(0)))
                    data["objects"] = measure_objects(server, root, args.object_mib, config,
                                                      args.upload_rounds)
            finally:
                server.stop()
    finally:
        backends.stop()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    data["elapsed_s"] = round(time.monotonic() - started, 1)
    if "machine" in data:
        data["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
        data["machine"]["cpu_probe_us_end"] = cpu_probe()
    data["targets"] = report.evaluate(data)
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / f"{run_id}.json"
    out.write_text(json.dumps(data, indent=2))
    print()
    print(report.markdown(data))
    print(f"\nresults: {out} ({data['elapsed_s']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
