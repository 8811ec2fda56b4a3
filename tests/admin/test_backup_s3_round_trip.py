"""The commands end to end without the devstack, every connection given as an option:
migrated storage and context databases on the session's PostgreSQL, payloads in a real
S3 bucket (SeaweedFS), graphs on ArcadeDB. Backed up, then restored into a second set
(other databases, another bucket, other graph databases), which then holds the same; a
second restore is refused, naming the bucket."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from tests import graph_servers
from unison_admin import graph_export
from unison_admin.object_store import S3Objects
from unison_admin.targets import GraphConfig, ObjectStoreConfig

ADMIN = [sys.executable, "-m", "unison_admin"]


def platform_set(postgres: Any, migrated_database: Any, seaweed: Any) -> dict[str, Any]:
    from unison_devstack.seaweedfs import ACCESS_KEY, SECRET_KEY

    tag = uuid.uuid4().hex[:8]
    server = graph_servers.arcadedb()
    graphs = [f"ctx{tag}", f"int{tag}"]
    for name in graphs:
        server.ensure_database(name)
    dbs = {}
    for section in ("storage", "context"):
        migrated_database(f"bk_{section}_{tag}", section)
        dbs[section] = postgres.url(f"bk_{section}_{tag}", user="postgres",
                                    driver="postgresql")
    return {"dbs": dbs, "graphs": graphs, "bucket": f"bk-{tag}",
            "s3": ObjectStoreConfig(backend="s3", s3_endpoint_url=seaweed.endpoint,
                                    s3_bucket=f"bk-{tag}", s3_access_key_id=ACCESS_KEY,
                                    s3_secret_access_key=SECRET_KEY),
            "graph": GraphConfig(uri=server.bolt_url, user="root", password=server.password,
                                 databases=tuple(graphs))}


def options(p: dict[str, Any]) -> list[str]:
    return ["--storage-db", p["dbs"]["storage"], "--context-db", p["dbs"]["context"],
            "--object-backend", "s3", "--s3-endpoint", p["s3"].s3_endpoint_url,
            "--s3-bucket", p["bucket"], "--s3-key", p["s3"].s3_access_key_id,
            "--s3-secret", p["s3"].s3_secret_access_key, "--graph-uri", p["graph"].uri,
            "--graph-user", "root", "--graph-password", p["graph"].password,
            "--graph-databases", ",".join(p["graphs"])]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("STORAGE_", "UNISON_ADMIN_", "UNISON_GRAPH_"))}
    return subprocess.run([*ADMIN, *args], capture_output=True, text=True, timeout=300,
                          env={**env, "COLUMNS": "200"})


def test_round_trip_with_s3_and_explicit_connections(postgres: Any, migrated_database: Any,
                                                     seaweed: Any, tmp_path: Path):
    source = platform_set(postgres, migrated_database, seaweed)
    target = platform_set(postgres, migrated_database, seaweed)
    payload = tmp_path / "payload"
    payload.write_bytes(os.urandom(2 * 1024 * 1024 + 5))
    store = S3Objects(source["s3"])
    for key in ("home/ab/one", "home/cd/two", "other/ef/three"):
        store.upload(key, payload)
    with graph_export.connect(source["graph"]) as driver:
        for name in source["graphs"]:
            with driver.session(database=name) as s:
                s.run("CREATE (p:Entity:Person {tenant: 'home', id: 'ann'})"
                      "<-[:FOR_PERSON {tenant: 'home'}]-"
                      "(:Entity:Session {tenant: 'home', id: 's1'})").consume()

    out = tmp_path / "backup"
    made = run("backup", "--out", str(out), *options(source))
    assert made.returncode == 0, made.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["objects"] == {"backend": "s3", "count": 3,
                                   "bytes": 3 * payload.stat().st_size,
                                   "source": f"s3://{source['bucket']} at "
                                             f"{source['s3'].s3_endpoint_url}"}
    assert {name: manifest["graph"][name]["relationships"] for name in source["graphs"]} \
        == dict.fromkeys(source["graphs"], 1)

    # Other graph database names on the target: matched by name they do not fit ...
    refused = run("restore", str(out), *options(target))
    assert refused.returncode == 4
    assert "do not match the target's" in " ".join(refused.stderr.split())
    # ... renamed BACKUP=TARGET they do.
    renames = ",".join(f"{a}={b}" for a, b in zip(source["graphs"], target["graphs"],
                                                  strict=True))
    restored = run("restore", str(out), *options(target), "--graph-databases", renames)
    assert restored.returncode == 0, restored.stderr
    assert sorted(S3Objects(target["s3"]).listing()) == sorted(store.listing())
    back = tmp_path / "back"
    S3Objects(target["s3"]).download("other/ef/three", back)
    assert back.read_bytes() == payload.read_bytes()
    with graph_export.connect(source["graph"]) as driver:
        for a, b in zip(source["graphs"], target["graphs"], strict=True):
            assert graph_export.counts(driver, b) == graph_export.counts(driver, a) == (2, 1)
    again = run("restore", str(out), *options(target), "--graph-databases", renames)
    assert again.returncode == 4
    message = " ".join(again.stderr.split())
    assert f"object store s3://{target['bucket']} at" in message
    assert "3 payload(s)" in message
