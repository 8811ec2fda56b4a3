"""A 1 GiB upload to a live storage process whose memory must stay flat.

The server runs as its own uvicorn process (filesystem backend) so its resident memory can
be sampled from outside while the body streams in; growth over the post-warm-up baseline
must stay under 64 MiB, and the size and SHA-256 the service computed must match. The
download of the same object is held to the same bound.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time

import httpx
import psutil
import pytest

from unison_devstack.procs import stop_pid

from .conftest import start_storage_process

GiB = 1024**3
MiB = 1024**2
LIMIT = 64 * MiB


class RSSSampler(threading.Thread):
    """Samples a process's resident set size every few milliseconds; keeps the peak."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.peak = 0
        self.samples = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            self.samples += 1
            time.sleep(0.005)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


@pytest.fixture
def upload_server(storage_env, state_dir):
    """A storage process of its own, so its memory is the upload's alone."""
    proc, base = start_storage_process({**storage_env, "STORAGE_OBJECT_BACKEND": "fs"},
                                       state_dir / "storage-big.log")
    yield base, proc.pid
    stop_pid(proc.pid)


@pytest.mark.slow
async def test_1gib_upload_keeps_memory_growth_under_64mib(upload_server, alice):
    base, pid = upload_server
    block = os.urandom(MiB)
    count = GiB // MiB
    expected = hashlib.sha256()
    for _ in range(count):
        expected.update(block)

    async def body(n: int):
        for _ in range(n):
            yield block

    async with httpx.AsyncClient(base_url=base, timeout=120) as c:
        # Warm-up: the same code paths with a smaller body, so lazy imports, pools and the
        # IO thread pool exist before the baseline is taken.
        for _ in range(2):
            warm = await c.post("/v1/objects", content=body(32),
                                headers={**alice.headers, "Content-Length": str(32 * MiB)})
            assert warm.status_code == 201, warm.text
            await c.delete(f"/v1/objects/{warm.json()['id']}", headers=alice.headers)
        # Twice: as an opaque octet stream, and typed as JSON (whose body the identity
        # rule must not read whole).
        for content_type in ("application/octet-stream", "application/json"):
            time.sleep(0.5)
            baseline = psutil.Process(pid).memory_info().rss
            sampler = RSSSampler(pid)
            sampler.start()
            started = time.perf_counter()
            try:
                r = await c.post("/v1/objects", content=body(count),
                                 headers={**alice.headers, "Content-Length": str(GiB),
                                          "Content-Type": content_type,
                                          "X-Content-SHA256": expected.hexdigest()})
            finally:
                elapsed = time.perf_counter() - started
                sampler.stop()
            assert r.status_code == 201, r.text
            meta = r.json()
            growth = sampler.peak - baseline
            print(f"\n1 GiB upload ({content_type}): {elapsed:.1f}s "
                  f"({GiB / MiB / elapsed:.0f} MiB/s); server RSS baseline "
                  f"{baseline / MiB:.1f} MiB, peak {sampler.peak / MiB:.1f} MiB, growth "
                  f"{growth / MiB:.1f} MiB over {sampler.samples} samples")
            assert meta["size_bytes"] == GiB
            assert meta["sha256"] == expected.hexdigest()
            assert sampler.samples > 10
            assert growth < LIMIT, f"server memory grew by {growth / MiB:.1f} MiB"
            if content_type == "application/octet-stream":
                # And it streams back whole, also without the server buffering it.
                sampler = RSSSampler(pid)
                sampler.start()
                got = hashlib.sha256()
                try:
                    async with c.stream("GET", f"/v1/objects/{meta['id']}",
                                        headers=alice.headers) as resp:
                        assert resp.status_code == 200
                        async for chunk in resp.aiter_raw():
                            got.update(chunk)
                finally:
                    sampler.stop()
                down = sampler.peak - baseline
                print(f"1 GiB download: server RSS growth {down / MiB:.1f} MiB")
                assert got.hexdigest() == expected.hexdigest()
                assert down < LIMIT, f"server memory grew by {down / MiB:.1f} MiB on download"
            else:
                head = await c.head(f"/v1/objects/{meta['id']}", headers=alice.headers)
                assert head.headers["content-length"] == str(GiB)
            gone = await c.delete(f"/v1/objects/{meta['id']}", headers=alice.headers)
            assert gone.status_code == 204
