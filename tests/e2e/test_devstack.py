"""The local runner behind `make up` / `make down`, end to end over real HTTP."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from unison_devstack.procs import free_port, port_open


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["fs", "s3"])
def test_up_serves_storage_and_down_stops_everything(tmp_path, backend):
    env = {**os.environ,
           "DEVSTACK_STATE_DIR": str(tmp_path / "state"),
           "DEVSTACK_POSTGRES_PORT": str(free_port()),
           "DEVSTACK_REDIS_PORT": str(free_port()),
           "DEVSTACK_STORAGE_PORT": str(free_port()),
           "DEVSTACK_S3_PORT": str(free_port()),
           "DEVSTACK_CONTEXT_PORT": str(free_port()),
           "DEVSTACK_CONTEXT_GRAPH_PORT": str(free_port()),
           "DEVSTACK_INTENT_GRAPH_PORT": str(free_port()),
           "DEVSTACK_ARCADEDB_HTTP_PORT": str(free_port()),
           "DEVSTACK_BOLT_PORT": str(free_port()),
           "DEVSTACK_OBJECT_BACKEND": backend}
    env.pop("UNISON_AUTH_HS256_SECRET", None)
    cli = [sys.executable, "-m", "unison_devstack.cli"]
    storage_port = int(env["DEVSTACK_STORAGE_PORT"])
    try:
        up = subprocess.run([*cli, "up"], env=env, capture_output=True, text=True, timeout=180)
        assert up.returncode == 0, up.stderr[-2000:]
        assert f"http://127.0.0.1:{storage_port}" in up.stdout
        assert "unison-devstack token --person" in up.stdout
        token = subprocess.run([*cli, "token", "--person", "alice", "--household", "home"],
                               env=env, capture_output=True, text=True, check=True
                               ).stdout.strip()
        base = f"http://127.0.0.1:{storage_port}"
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{base}/readyz").json()["ready"] is True
        who = httpx.get(f"{base}/v1/whoami", headers=headers).json()
        assert who["tenant_id"] == "home" and who["person_id"] == "alice"
        put = httpx.put(f"{base}/kv/prefs/theme", json={"value": "dark"}, headers=headers)
        assert put.json()["ok"] is True
        assert httpx.get(f"{base}/kv/prefs/theme", headers=headers).json()["value"] == "dark"
        ready = httpx.get(f"{base}/readyz").json()
        assert ready["checks"]["object_store"] == "ok"
        stored = httpx.post(f"{base}/v1/objects", content=b"hello", headers=headers)
        assert stored.status_code == 201, stored.text
        oid = stored.json()["id"]
        assert httpx.get(f"{base}/v1/objects/{oid}", headers=headers).content == b"hello"
        if backend == "s3":
            assert f"http://127.0.0.1:{env['DEVSTACK_S3_PORT']}" in up.stdout
        else:
            # `up` is idempotent: with only PostgreSQL dead, it restarts PostgreSQL,
            # leaves the healthy services alone, says so, and exits 0.
            import signal
            import time

            from unison_devstack.postgres import PostgresServer

            pg = PostgresServer(tmp_path / "state" / "postgres",
                                int(env["DEVSTACK_POSTGRES_PORT"]))
            os.kill(pg.pid(), signal.SIGQUIT)  # PostgreSQL dies (immediate shutdown)
            deadline = time.monotonic() + 30
            while port_open(pg.port) and time.monotonic() < deadline:
                time.sleep(0.2)
            again = subprocess.run([*cli, "up"], env=env, capture_output=True, text=True,
                                   timeout=180)
            assert again.returncode == 0, again.stderr[-2000:]
            for name in ("storage", "context", "context-graph", "intent-graph"):
                assert f"{name}: already running" in again.stderr, again.stderr[-2000:]
            # The pool's connections died with the server: a request that meets one is a
            # retryable 503, and the next ones are served from the restarted server.
            answers = [httpx.get(f"{base}/kv/prefs/theme", headers=headers)
                       for _ in range(3)]
            assert all(a.status_code in (200, 503) for a in answers)
            assert answers[-1].json()["value"] == "dark"
        # The generated development secret is private to its owner.
        secret_file = tmp_path / "state" / "secrets" / "hs256"
        assert oct(secret_file.stat().st_mode & 0o777) == "0o600"
    finally:
        down = subprocess.run([*cli, "down"], env=env, capture_output=True, text=True,
                              timeout=60)
    assert down.returncode == 0, down.stderr
    assert "storage" in down.stdout and "postgres" in down.stdout
    assert not port_open(storage_port)
    assert not port_open(int(env["DEVSTACK_POSTGRES_PORT"]))
    assert not port_open(int(env["DEVSTACK_S3_PORT"]))
