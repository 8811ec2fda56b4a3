"""The whole platform started with the Docker-free runner (`unison-devstack up`), and the
scans the end-to-end tests use to prove where a value is (or is not): every PostgreSQL
column, every Redis key, every graph node and edge, every file under the state dir."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import redis
from neo4j import GraphDatabase

from unison_devstack.graph_stack import GRAPH_SERVICES
from unison_devstack.postgres import PostgresServer
from unison_devstack.procs import free_port, port_open
from unison_devstack.tokens import mint_token

CLI = [sys.executable, "-m", "unison_devstack.cli"]
AUDIENCE = "storage,context,context-graph,intent-graph"
HOUSEHOLD = "home"
PORT_VARS = ("DEVSTACK_POSTGRES_PORT", "DEVSTACK_REDIS_PORT", "DEVSTACK_STORAGE_PORT",
             "DEVSTACK_S3_PORT", "DEVSTACK_CONTEXT_PORT", "DEVSTACK_CONTEXT_GRAPH_PORT",
             "DEVSTACK_INTENT_GRAPH_PORT", "DEVSTACK_ARCADEDB_HTTP_PORT",
             "DEVSTACK_BOLT_PORT")
GRAPH_DATABASES = tuple(database for _name, _pkg, database, _var, _port in GRAPH_SERVICES)
# Column types whose contents could hold a token as text or bytes.
SCANNED_TYPES = ("text", "character varying", "character", "json", "jsonb", "bytea",
                 "ARRAY")


@dataclass
class Platform:
    env: dict[str, str]
    state_dir: Path
    storage: str
    context: str
    context_graph: str
    intent_graph: str

    def port(self, name: str) -> int:
        return int(self.env[name])

    def person_headers(self, person: str) -> dict[str, str]:
        """A person's token, minted by the runner's CLI as a developer would."""
        token = subprocess.run(
            [*CLI, "token", "--person", person, "--household", HOUSEHOLD,
             "--audience", AUDIENCE],
            env=self.env, capture_output=True, text=True, check=True, timeout=60,
        ).stdout.strip()
        return {"Authorization": f"Bearer {token}"}

    def service_headers(self, name: str = "orchestrator",
                        scopes: tuple[str, ...] = ()) -> dict[str, str]:
        """An HS256 service token of the household, signed with the stack's secret."""
        secret = (self.state_dir / "secrets" / "hs256").read_text().strip()
        token = mint_token(secret, person_id=None, household_id=HOUSEHOLD,
                           audience=AUDIENCE.split(","), sub=f"service-{name}",
                           type="service", roles=["service"], scopes=list(scopes))
        return {"Authorization": f"Bearer {token}"}

    @property
    def postgres(self) -> PostgresServer:
        return PostgresServer(self.state_dir / "postgres", self.port("DEVSTACK_POSTGRES_PORT"))

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.port('DEVSTACK_REDIS_PORT')}/0"

    @property
    def bolt_url(self) -> str:
        return f"bolt://127.0.0.1:{self.port('DEVSTACK_BOLT_PORT')}"


@contextmanager
def started_platform(state_dir: Path) -> Iterator[Platform]:
    """`unison-devstack up` on free ports under `state_dir`; `down` (checked) on exit."""
    env = {**os.environ, "DEVSTACK_STATE_DIR": str(state_dir),
           "DEVSTACK_OBJECT_BACKEND": "fs",
           "UNISON_AUTH_ACCEPT_SERVICE_TOKENS": "true",
           **{name: str(free_port()) for name in PORT_VARS}}
    env.pop("UNISON_AUTH_HS256_SECRET", None)
    try:
        up = subprocess.run([*CLI, "up"], env=env, capture_output=True, text=True,
                            timeout=300)
        assert up.returncode == 0, up.stderr[-3000:]
        plat = Platform(
            env=env, state_dir=state_dir,
            storage=f"http://127.0.0.1:{env['DEVSTACK_STORAGE_PORT']}",
            context=f"http://127.0.0.1:{env['DEVSTACK_CONTEXT_PORT']}",
            context_graph=f"http://127.0.0.1:{env['DEVSTACK_CONTEXT_GRAPH_PORT']}",
            intent_graph=f"http://127.0.0.1:{env['DEVSTACK_INTENT_GRAPH_PORT']}",
        )
        for url in (plat.storage, plat.context, plat.context_graph, plat.intent_graph):
            assert url in up.stdout
        yield plat
    finally:
        down = subprocess.run([*CLI, "down"], env=env, capture_output=True, text=True,
                              timeout=120)
    assert down.returncode == 0, down.stderr[-3000:]
    for name in ("DEVSTACK_STORAGE_PORT", "DEVSTACK_CONTEXT_PORT",
                 "DEVSTACK_CONTEXT_GRAPH_PORT", "DEVSTACK_INTENT_GRAPH_PORT",
                 "DEVSTACK_POSTGRES_PORT", "DEVSTACK_REDIS_PORT", "DEVSTACK_BOLT_PORT"):
        assert not port_open(int(env[name])), name


def ok(resp: httpx.Response) -> dict[str, Any]:
    """A legacy 200 `{"ok": true, ...}` reply."""
    assert resp.status_code == 200, f"{resp.request.method} {resp.request.url}: {resp.text}"
    body: dict[str, Any] = resp.json()
    assert body.get("ok") is True, f"{resp.request.method} {resp.request.url}: {body}"
    return body


def good(resp: httpx.Response, status: int = 200) -> Any:
    assert resp.status_code == status, \
        f"{resp.request.method} {resp.request.url}: {resp.status_code} {resp.text}"
    return resp.json()


# --- where a value could end up: the scans -----------------------------------------


def postgres_hits(plat: Platform, database: str, needle: str) -> list[str]:
    """Every text, json(b), bytea and array column (all schemas, all rows, read as the
    superuser, so row-level security hides nothing) holding `needle`."""
    assert needle.replace("_", "").isalnum()  # safe to put in a literal
    pg = plat.postgres
    types = ", ".join(f"'{t}'" for t in SCANNED_TYPES)
    columns = pg.psql(
        "SELECT c.table_schema, c.table_name, c.column_name, c.data_type "
        "FROM information_schema.columns c JOIN information_schema.tables t "
        "  ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
        "WHERE t.table_type = 'BASE TABLE' "
        "  AND c.table_schema NOT IN ('pg_catalog', 'information_schema') "
        f"  AND c.data_type IN ({types})",
        database=database)
    selects = []
    for line in columns.splitlines():
        schema, table, column, data_type = line.split("|")
        where = (f"position(convert_to('{needle}', 'UTF8') in \"{column}\") > 0"
                 if data_type == "bytea" else
                 f"position('{needle}' in \"{column}\"::text) > 0")
        selects.append(f"SELECT '{schema}.{table}.{column}' FROM \"{schema}\".\"{table}\" "
                       f"WHERE {where}")
    assert len(selects) > 10, columns  # the scan sees the service's tables
    found = pg.psql(" UNION ".join(selects), database=database)
    return sorted(set(found.split()))


def redis_hits(plat: Platform, needle: str) -> list[str]:
    """Every key of every Redis database whose name or value holds `needle`."""
    raw = needle.encode()
    hits = []
    client = redis.Redis.from_url(plat.redis_url)
    try:
        databases = [int(name[2:]) for name in client.info("keyspace")]
    finally:
        client.close()
    for db in databases:
        conn = redis.Redis(host="127.0.0.1", port=plat.port("DEVSTACK_REDIS_PORT"), db=db)
        try:
            for key in conn.scan_iter(count=500):
                kind = conn.type(key)
                values: list[bytes] = []
                if kind == b"string":
                    values = [conn.get(key) or b""]
                elif kind == b"hash":
                    values = [b for kv in conn.hgetall(key).items() for b in kv]
                elif kind == b"list":
                    values = conn.lrange(key, 0, -1)
                elif kind == b"set":
                    values = list(conn.smembers(key))
                elif kind == b"zset":
                    values = conn.zrange(key, 0, -1)
                elif kind == b"stream":
                    values = [repr(conn.xrange(key)).encode()]
                if raw in key or any(raw in v for v in values):
                    hits.append(f"{db}:{key.decode(errors='replace')}")
        finally:
            conn.close()
    return hits


def graph_dump(plat: Platform) -> str:
    """Every node's labels and properties and every relationship's type and properties,
    of every graph database the runner made, over Bolt."""
    password = (plat.state_dir / "secrets" / "arcadedb").read_text().strip()
    parts = []
    with GraphDatabase.driver(plat.bolt_url, auth=("root", password)) as driver:
        for database in GRAPH_DATABASES:
            with driver.session(database=database) as session:
                for record in session.run("MATCH (n) RETURN labels(n) AS l, "
                                          "properties(n) AS p"):
                    parts.append(f"{database} node {record['l']} {record['p']}")
                for record in session.run("MATCH ()-[r]->() RETURN type(r) AS t, "
                                          "properties(r) AS p"):
                    parts.append(f"{database} rel {record['t']} {record['p']}")
    return "\n".join(parts)


def files_holding(root: Path, needle: str) -> list[str]:
    raw = needle.encode()
    found = []
    for path in root.rglob("*"):
        if path.is_symlink() or not path.is_file():
            continue
        try:
            data = path.read_bytes()
        except FileNotFoundError:  # a server removed it meanwhile (temp file, old WAL)
            continue
        if raw in data:
            found.append(str(path.relative_to(root)))
    return sorted(found)


def marker(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"
