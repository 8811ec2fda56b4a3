"""The local runner behind `make up` / `make down`, end to end over real HTTP."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

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
        # Every service's URL is printed, and each answers ready there.
        for name, var in (("storage", "DEVSTACK_STORAGE_PORT"),
                          ("context", "DEVSTACK_CONTEXT_PORT"),
                          ("context-graph", "DEVSTACK_CONTEXT_GRAPH_PORT"),
                          ("intent-graph", "DEVSTACK_INTENT_GRAPH_PORT")):
            url = f"http://127.0.0.1:{env[var]}"
            assert re.search(rf"^  {re.escape(name)} +{re.escape(url)}$", up.stdout,
                             re.MULTILINE), up.stdout
            assert httpx.get(f"{url}/readyz", timeout=10).status_code == 200, name
        # The platform signing key: created once, private, Ed25519 in PKCS8 PEM, and
        # named in the output the way unison-admin reads it.
        key_file = (tmp_path / "state" / "secrets" / "platform-signing.pem").resolve()
        assert f"UNISON_PLATFORM_SIGNING_KEY_FILE={key_file}" in up.stdout
        assert oct(key_file.stat().st_mode & 0o777) == "0o600"
        pem = key_file.read_bytes()
        assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS8
        assert isinstance(serialization.load_pem_private_key(pem, password=None),
                          Ed25519PrivateKey)
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
            # The key is kept: receipts signed with it stay verifiable.
            assert key_file.read_bytes() == pem
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
    # `down` stops everything `up` started.
    for var in ("DEVSTACK_STORAGE_PORT", "DEVSTACK_POSTGRES_PORT", "DEVSTACK_S3_PORT",
                "DEVSTACK_REDIS_PORT", "DEVSTACK_CONTEXT_PORT", "DEVSTACK_CONTEXT_GRAPH_PORT",
                "DEVSTACK_INTENT_GRAPH_PORT", "DEVSTACK_BOLT_PORT",
                "DEVSTACK_ARCADEDB_HTTP_PORT"):
        assert not port_open(int(env[var])), f"{var} still answers after down"
