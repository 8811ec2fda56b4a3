"""Object upload throughput against dd to the same directory.

The upload client is a separate process that speaks HTTP/1.1 over a plain asyncio
stream (Content-Length, 1 MiB writes): next to no client CPU, so the figure is the
server's. dd writes the same number of MiB with conv=fsync, and the service fsyncs
each object before answering, so both include the flush to disk.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import uvloop

from unison_devstack.tokens import mint_token

from .servers import BENCH_SECRET, REPO_ROOT, StorageProcess

CHUNK = 1024 * 1024


def run_dd(directory: Path, mib: int) -> dict[str, Any]:
    target = directory / "dd-probe.bin"
    started = time.perf_counter()
    subprocess.run(["dd", "if=/dev/zero", f"of={target}", "bs=1M", f"count={mib}",
                    "conv=fsync"], check=True, capture_output=True)
    seconds = time.perf_counter() - started
    target.unlink()
    return {"mib": mib, "seconds": round(seconds, 3),
            "mb_s": round(mib * CHUNK / 1e6 / seconds, 1),
            "command": f"dd if=/dev/zero of={directory}/dd-probe.bin bs=1M count={mib} "
                       "conv=fsync"}


async def upload(base_url: str, token: str, mib: int) -> dict[str, Any]:
    url = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    size = mib * CHUNK
    chunk = os.urandom(CHUNK)
    head = (f"POST /v1/objects?filename=bench.bin HTTP/1.1\r\nHost: {url.netloc}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {size}\r\nConnection: close\r\n\r\n")
    started = time.perf_counter()
    writer.write(head.encode())
    for _ in range(mib):
        writer.write(chunk)
        await writer.drain()
    response = await reader.read()
    seconds = time.perf_counter() - started
    writer.close()
    status_line, _, rest = response.partition(b"\r\n")
    status = int(status_line.split()[1])
    body = rest.partition(b"\r\n\r\n")[2]
    if status != 201:
        return {"skipped": f"POST /v1/objects answered {status}: {body[:300]!r}"}
    meta = orjson.loads(body)
    if meta.get("size_bytes") != size:
        return {"skipped": f"stored size {meta.get('size_bytes')} != {size}"}
    return {"mib": mib, "seconds": round(seconds, 3),
            "mb_s": round(size / 1e6 / seconds, 1), "status": status}


def _upload_once(server: StorageProcess, mib: int) -> dict[str, Any]:
    spec = {"base_url": server.base_url, "mib": mib}
    proc = subprocess.run([sys.executable, "-m", "bench.upload"], cwd=REPO_ROOT,
                          input=json.dumps(spec).encode(), capture_output=True,
                          timeout=600, check=False)
    if proc.returncode != 0:
        return {"skipped": f"upload client failed: {proc.stderr.decode()[-500:]}"}
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(runs, key=lambda r: r["mb_s"])
    return {**ordered[len(ordered) // 2], "runs_mb_s": [r["mb_s"] for r in runs]}


def measure_objects(server: StorageProcess, root: Path, mib: int, config: str,
                    rounds: int = 3) -> dict[str, Any]:
    """dd, then the upload, into the service's object directory, `rounds` times in turn.

    The disk's speed here moves severalfold between minutes, so each upload is compared
    with the dd run just before it, and the median of those ratios is the figure."""
    server.objects_dir.mkdir(parents=True, exist_ok=True)
    dds: list[dict[str, Any]] = []
    ups: list[dict[str, Any]] = []
    ratios: list[float] = []
    for _ in range(rounds):
        dd = run_dd(server.objects_dir, mib)
        up = _upload_once(server, mib)
        print(f"  dd {dd['mb_s']} MB/s; upload {up.get('mb_s', up.get('skipped'))} MB/s",
              flush=True)
        if "mb_s" not in up:
            return {"config": config, "dd": dd, "upload": up}
        dds.append(dd)
        ups.append(up)
        ratios.append(round(up["mb_s"] / dd["mb_s"], 3))
    return {"config": config, "dd": _median_run(dds), "upload": _median_run(ups),
            "ratios": ratios, "ratio": sorted(ratios)[len(ratios) // 2]}


def main() -> None:
    spec = orjson.loads(sys.stdin.buffer.read())
    token = mint_token(BENCH_SECRET, person_id="p-bench-upload",
                       household_id=f"h-bench-upload-{os.getpid()}", audience="storage")
    sys.stdout.buffer.write(orjson.dumps(uvloop.run(upload(spec["base_url"], token,
                                                           spec["mib"]))))


if __name__ == "__main__":
    main()
