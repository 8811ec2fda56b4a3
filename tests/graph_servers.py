"""Real servers for the graph service tests: ArcadeDB (Bolt) and Redis, started once per
test session however many graph test folders run (module-level singletons, stopped by
PID at exit), plus a FAKE storage service.

FakeStorage is a small named stand-in for the storage service's KV API (PUT/GET/DELETE
`/v1/kv/{namespace}/{key}` with ETag, If-Match and If-None-Match, JWT audience
`storage`, records keyed by household and person), served by a real uvicorn on a
loopback port. It exists so the graph tests do not need PostgreSQL and the storage
service's migrations; the storage client is tested against it over real HTTP, and it
can be told to fail (503) to prove that a storage outage leaves the graph untouched.
"""

from __future__ import annotations

import atexit
import contextlib
import secrets
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import jwt
import uvicorn
from fastapi import FastAPI, Header, Request, Response
from fastapi.responses import JSONResponse

from unison_devstack.arcadedb import ArcadeDBServer
from unison_devstack.procs import free_port, port_open
from unison_devstack.redis import RedisServer

TEST_SECRET = "graph-tests-hs256-secret-long-enough-for-hmac"
_state: dict[str, Any] = {}


def _root() -> Path:
    if "root" not in _state:
        root = Path(tempfile.mkdtemp(prefix="unison-graph-tests-"))
        _state["root"] = root
        atexit.register(_cleanup)
    return Path(_state["root"])


def _cleanup() -> None:
    for key in ("arcadedb", "redis"):
        server = _state.pop(key, None)
        if server is not None:
            with contextlib.suppress(Exception):
                server.stop()
    for extra in _state.pop("extra", []):
        with contextlib.suppress(Exception):
            extra.stop()
    shutil.rmtree(_state.pop("root", ""), ignore_errors=True)


def new_arcadedb(name: str) -> ArcadeDBServer:
    """A fresh ArcadeDB server (about 4 s to start), stopped at exit at the latest."""
    server = ArcadeDBServer(_root() / name, free_port(), free_port(),
                            password=secrets.token_hex(8))
    server.start()
    _state.setdefault("extra", []).append(server)
    return server


def arcadedb() -> ArcadeDBServer:
    if "arcadedb" not in _state:
        server = ArcadeDBServer(_root() / "arcadedb", free_port(), free_port(),
                                password=secrets.token_hex(8))
        server.start()
        _state["arcadedb"] = server
    server = _state["arcadedb"]
    assert isinstance(server, ArcadeDBServer)
    return server


def new_redis(name: str) -> RedisServer:
    server = RedisServer(_root() / name, free_port())
    server.start()
    _state.setdefault("extra", []).append(server)
    return server


def redis() -> RedisServer:
    if "redis" not in _state:
        server = RedisServer(_root() / "redis", free_port())
        server.start()
        _state["redis"] = server
    server = _state["redis"]
    assert isinstance(server, RedisServer)
    return server


class FakeStorage:
    """The FAKE storage service (see the module docstring)."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str, str, str], tuple[Any, int]] = {}
        self.fail = False
        self.calls: list[dict[str, Any]] = []
        self.port = free_port()
        self.app = self._build()
        self._server: uvicorn.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _scope(self, request: Request) -> tuple[str, str] | JSONResponse:
        header = request.headers.get("authorization", "")
        try:
            claims = jwt.decode(header.partition(" ")[2], TEST_SECRET, algorithms=["HS256"],
                                audience="storage")
        except jwt.PyJWTError as exc:
            return JSONResponse({"detail": f"bad token: {exc}"}, status_code=403)
        return str(claims.get("household_id") or "system"), str(claims.get("person_id") or "")

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.api_route("/v1/kv/{namespace}/{key}", methods=["GET", "PUT", "DELETE"])
        async def kv(namespace: str, key: str, request: Request,
                     if_match: str | None = Header(default=None),
                     if_none_match: str | None = Header(default=None)) -> Response:
            self.calls.append({"method": request.method, "namespace": namespace, "key": key,
                               "request_id": request.headers.get("x-request-id"),
                               "traceparent": request.headers.get("traceparent")})
            if self.fail:
                return JSONResponse({"detail": "storage is down"}, status_code=503)
            scope = self._scope(request)
            if isinstance(scope, JSONResponse):
                return scope
            rkey = (*scope, namespace, key)
            current = self.records.get(rkey)
            if request.method == "GET":
                if current is None:
                    return JSONResponse({"detail": "absent"}, status_code=404)
                return JSONResponse(_record(namespace, key, *current),
                                    headers={"ETag": f'"{current[1]}"'})
            if request.method == "DELETE":
                if self.records.pop(rkey, None) is None:
                    return JSONResponse({"detail": "absent"}, status_code=404)
                return Response(status_code=204)
            # Read the body first: from here to the write nothing awaits, so a
            # check-and-set is atomic on this one event loop (as storage's is in SQL).
            value = (await request.json())["value"]
            current = self.records.get(rkey)
            if if_none_match == "*" and current is not None:
                return JSONResponse({"detail": "exists"}, status_code=412)
            if if_match and (current is None or if_match not in ("*", f'"{current[1]}"')):
                return JSONResponse({"detail": "changed"}, status_code=412)
            version = (current[1] if current else 0) + 1
            self.records[rkey] = (value, version)
            return JSONResponse(_record(namespace, key, value, version),
                                status_code=201 if current is None else 200,
                                headers={"ETag": f'"{version}"'})

        return app

    def start(self) -> None:
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port,
                                log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        threading.Thread(target=self._server.run, daemon=True).start()
        deadline = time.monotonic() + 10
        while not port_open(self.port):
            if time.monotonic() > deadline:
                raise TimeoutError("fake storage did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._server = None

    def values(self, namespace: str) -> dict[str, Any]:
        return {k[3]: v[0] for k, v in self.records.items() if k[2] == namespace}


def _record(namespace: str, key: str, value: Any, version: int) -> dict[str, Any]:
    """A KV record in the real service's shape (the client parses it)."""
    return {"namespace": namespace, "key": key, "value": value, "version": version,
            "etag": f'"{version}"', "expires_at": None,
            "updated_at": "2026-01-01T00:00:00Z"}
