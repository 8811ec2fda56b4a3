"""Backup and restore of the whole platform (docs/backup.md): the session's platform is
populated over HTTP (every storage domain, context, both graphs), backed up with
`unison-admin backup`, and restored with `unison-admin restore` into a second platform
started empty; then every row of both databases, every object, every graph node and
edge, the grants and row-level security policies, and the audit chain (verified by the
restored storage service, signed checkpoints included) are held against the source.

The restore target gets the source's key material before it starts (KEK keyrings and
the audit signing key): a backup never carries keys (see the doc), and without them the
restored vault could not be read nor the checkpoints checked.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from neo4j import GraphDatabase

from tests.e2e.platform import (
    GRAPH_DATABASES,
    Platform,
    good,
    marker,
    ok,
    started_platform,
)

pytestmark = pytest.mark.slow

ADMIN = [sys.executable, "-m", "unison_admin"]
BIG = 5 * 1024 * 1024 + 12345  # several 1 MiB write buffers and S3 parts' worth
KEY_FILES = ("storage/keys/kek.json", "storage/keys/audit-signing.key",
             "context/keys/kek.json")


# --- helpers --------------------------------------------------------------------------


def admin(*args: str | Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ADMIN, *map(str, args)], env={**env, "COLUMNS": "200"},
                          capture_output=True, text=True, timeout=600)


def admin_env(plat: Platform) -> dict[str, str]:
    """Connections given the way an operator would: environment variables."""
    password = (plat.state_dir / "secrets" / "arcadedb").read_text().strip()
    pg = plat.port("DEVSTACK_POSTGRES_PORT")
    return {**plat.env,
            "UNISON_ADMIN_STORAGE_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{pg}/storage",
            "UNISON_ADMIN_CONTEXT_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{pg}/context",
            "STORAGE_OBJECT_BACKEND": "fs",
            "STORAGE_OBJECT_FS_ROOT": str(plat.state_dir / "objects"),
            "UNISON_GRAPH_URI": plat.bolt_url, "UNISON_GRAPH_USER": "root",
            "UNISON_GRAPH_PASSWORD": password,
            "UNISON_ADMIN_GRAPH_DATABASES": ",".join(GRAPH_DATABASES)}


def table_rows(plat: Platform, database: str) -> dict[str, list[str]]:
    """Every row of every table (as the superuser: row-level security hides nothing),
    as text, sorted, per table."""
    pg = plat.postgres
    tables = pg.psql("SELECT format('%I.%I', table_schema, table_name) "
                     "FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
                     "AND table_schema NOT IN ('pg_catalog', 'information_schema') "
                     "ORDER BY 1", database=database).split()
    assert len(tables) > 5, tables
    union = " UNION ALL ".join(f"SELECT '{t}', x::text FROM {t} x" for t in tables)
    rows: dict[str, list[str]] = {t: [] for t in tables}
    out = subprocess.run(
        [str(_psql(plat)), "-h", "127.0.0.1", "-p", str(pg.port), "-U", "postgres",
         "-d", database, "-X", "-At", "-F", "\x1f", "-R", "\x1e", "-c",
         f"SELECT * FROM ({union}) u ORDER BY 1, 2"],
        capture_output=True, text=True, check=True).stdout
    for record in out.split("\x1e"):
        if record.strip():
            table, row = record.split("\x1f", 1)
            rows[table].append(row)
    return rows


def _psql(plat: Platform) -> Path:
    from unison_devstack.postgres import PG_BIN

    return PG_BIN / "psql"


def security(plat: Platform, database: str) -> str:
    """Owners, grants, RLS flags and policies, sequences: what restore must keep."""
    return plat.postgres.psql(
        "SELECT c.relname, pg_get_userbyid(c.relowner), c.relrowsecurity, "
        "c.relforcerowsecurity, coalesce(c.relacl::text, '') FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' "
        "AND c.relkind IN ('r', 'S', 'v', 'f') ORDER BY 1;"
        "SELECT tablename, policyname, roles::text, cmd, coalesce(qual, ''), "
        "coalesce(with_check, '') FROM pg_policies ORDER BY 1, 2;"
        "SELECT sequencename, coalesce(last_value, 0) FROM pg_sequences ORDER BY 1;"
        "SELECT p.proname, pg_get_userbyid(p.proowner), p.prosecdef FROM pg_proc p "
        "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' "
        "ORDER BY 1, 2", database=database)


def object_digests(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.startswith(".tmp-")}


def graph_content(plat: Platform) -> dict[str, dict[str, list[str]]]:
    """Per database: every node (labels, properties) and every relationship (type,
    properties, both end nodes), sorted; element ids differ between servers."""
    password = (plat.state_dir / "secrets" / "arcadedb").read_text().strip()
    content: dict[str, dict[str, list[str]]] = {}

    def node(labels: list[str], props: dict[str, Any]) -> str:
        return json.dumps([sorted(labels), props], sort_keys=True)

    with GraphDatabase.driver(plat.bolt_url, auth=("root", password)) as driver:
        for database in GRAPH_DATABASES:
            with driver.session(database=database) as session:
                nodes = sorted(node(r["l"], r["p"]) for r in session.run(
                    "MATCH (n) RETURN labels(n) AS l, properties(n) AS p"))
                rels = sorted(json.dumps([r["t"], r["p"], node(r["al"], r["ap"]),
                                          node(r["bl"], r["bp"])], sort_keys=True)
                              for r in session.run(
                    "MATCH (a)-[r]->(b) RETURN type(r) AS t, properties(r) AS p, "
                    "labels(a) AS al, properties(a) AS ap, labels(b) AS bl, "
                    "properties(b) AS bp"))
            content[database] = {"nodes": nodes, "relationships": rels}
    return content


# --- the population -------------------------------------------------------------------


@dataclass
class Population:
    vault_name: str
    vault_value: str
    big_object: str
    big_sha256: str
    person: str


def populate(plat: Platform, http: httpx.Client) -> Population:
    """A bit of everything the platform keeps, written over its APIs."""
    pid = "backup-ann"
    person = plat.person_headers(pid)
    v1 = f"{plat.storage}/v1"
    tag = marker("bk")
    # storage: KV, memory, vault, audit, objects (one of several MiB), files, vectors
    good(http.put(f"{v1}/kv/notes/{tag}", headers=person, json={"value": {"n": tag}}), 201)
    good(http.post(f"{v1}/memory/sessions/s-{tag}/entries", headers=person,
                   json={"payload": {"said": tag}, "key": "k1", "ttl_seconds": 86400}), 201)
    vault_name, vault_value = f"api/{tag}", marker("secret")
    good(http.put(f"{v1}/vault/secrets/{vault_name}", headers=person,
                  json={"value": vault_value}), 201)
    for i in range(3):
        good(http.post(f"{v1}/audit", headers=person,
                       json={"action": "backup.test", "target": f"{tag}-{i}",
                             "payload": {"i": i}}), 201)
    payload = os.urandom(BIG)
    big = good(http.post(f"{v1}/objects", headers={**person, "Content-Type":
                                                    "application/octet-stream"},
                         content=payload), 201)
    good(http.post(f"{v1}/objects", headers={**person, "Content-Type": "text/plain"},
                   content=f"small {tag}".encode()), 201)
    good(http.put(f"{v1}/files/docs/{tag}.txt", headers={**person,
                                                         "Content-Type": "text/plain"},
                  content=b"a file"), 201)
    good(http.post(f"{v1}/vectors/collections", headers=person,
                   json={"name": f"c{tag[-8:]}", "dimension": 3, "distance": "cosine"}), 201)
    good(http.post(f"{v1}/vectors/collections/c{tag[-8:]}/documents", headers=person,
                   json={"documents": [{"id": "d1", "embedding": [0.1, 0.2, 0.3],
                                        "text": "hello", "metadata": {"k": "v"}}]}))
    # agent-runtime records: a thread with messages (one stored as an object), state,
    # an artifact
    thread = good(http.post(f"{v1}/threads", headers=person,
                            json={"agent_name": "planner", "title": tag}), 201)
    tid = thread["id"]
    for role, content in (("user", "plan"), ("assistant", "x" * (70 * 1024))):
        good(http.post(f"{v1}/threads/{tid}/messages", headers=person,
                       json={"role": role, "content": content}), 201)
    good(http.put(f"{v1}/threads/{tid}/state", headers=person, json={"data": {"step": 1}}))
    good(http.post(f"{v1}/threads/{tid}/artifacts", headers=person, json={
        "name": "plan.md", "type": "document",
        "content_b64": base64.b64encode(b"# plan\n").decode()}), 201)
    # context: profile, dashboard, conversation
    ok(http.post(f"{plat.context}/profile/{pid}", headers=person,
                 json={"profile": {"locale": "en-GB", "language": "en"}}))
    ok(http.post(f"{plat.context}/dashboard/{pid}", headers=person,
                 json={"dashboard": {"cards": [{"id": "weather"}], "preferences": {}}}))
    ok(http.post(f"{plat.context}/conversation/{pid}/s-{tag}", headers=person,
                 json={"messages": [{"role": "user", "content": tag}], "response": {},
                       "summary": "s"}))
    # both graphs
    good(http.post(f"{plat.context_graph}/context/update", headers=person,
                   json={"user_id": pid, "session_id": f"s-{tag}",
                         "dimensions": [{"name": "activity", "value": "testing"}]}))
    good(http.post(f"{plat.context_graph}/traces/replay", headers=person,
                   json={"user_id": pid, "trace": [
                       {"event": "backup_turn", "metadata": {"tags": [tag]}}]}))
    intent = marker("intent")
    ok(http.post(f"{plat.intent_graph}/graph/intent", headers=person,
                 json={"intent_id": intent, "person_id": pid, "agent_id": marker("agent"),
                       "name": "plan_trip", "rel_type": "HANDLES"}))
    good(http.post(f"{plat.intent_graph}/v1/intents/{intent}/produced", headers=person,
                   json={"resource_id": marker("res"), "storage_id": big["id"]}))
    # the audit chain's head signed, so verify checks a signature after restore
    good(http.post(f"{v1}/audit/checkpoints", headers=person), 201)
    return Population(vault_name, vault_value, big["id"],
                      hashlib.sha256(payload).hexdigest(), pid)


# --- the round trip -------------------------------------------------------------------


@dataclass
class Snapshot:
    """The source as the backup took it (read just before): what the target must be."""
    rows: dict[str, dict[str, list[str]]]
    objects: dict[str, str]
    graph: dict[str, dict[str, list[str]]]
    security: dict[str, str]

    @classmethod
    def of(cls, plat: Platform) -> Snapshot:
        databases = ("storage", "context")
        return cls({db: table_rows(plat, db) for db in databases},
                   object_digests(plat.state_dir / "objects"), graph_content(plat),
                   {db: security(plat, db) for db in databases})


@dataclass
class RoundTrip:
    source: Platform
    target: Platform
    backup: Path
    population: Population
    taken: Snapshot
    backup_seconds: float
    restore_seconds: float
    restore_output: str


def copy_keys(source: Path, target: Path) -> None:
    """The key material a restored platform needs (never in a backup): what an operator
    configures on the target (UNISON_KEK_KEYRING_FILE, STORAGE_AUDIT_SIGNING_KEY_FILE)."""
    for rel in KEY_FILES:
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / rel, target / rel)


@pytest.fixture(scope="module")
def round_trip(platform: Platform, http: httpx.Client,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoundTrip]:
    population = populate(platform, http)
    root = tmp_path_factory.mktemp("backup")
    out = root / "backup"
    taken = Snapshot.of(platform)
    started = time.monotonic()
    made = admin("backup", "--out", out, env=admin_env(platform))
    backup_seconds = time.monotonic() - started
    assert made.returncode == 0, made.stderr[-3000:]
    assert "backup written to" in made.stdout
    target_state = root / "target" / "state"
    copy_keys(platform.state_dir, target_state)
    with started_platform(target_state) as target:
        started = time.monotonic()
        # The target's connections from its state directory and DEVSTACK_* ports.
        restored = admin("restore", out, "--devstack", target_state, env=target.env)
        restore_seconds = time.monotonic() - started
        assert restored.returncode == 0, restored.stderr[-3000:]
        yield RoundTrip(platform, target, out, population, taken, backup_seconds,
                        restore_seconds, restored.stdout + restored.stderr)


def test_manifest_names_every_file_and_the_schema_versions(round_trip: RoundTrip):
    rt = round_trip
    manifest = json.loads((rt.backup / "manifest.json").read_text())
    assert manifest["format"] == "unison-backup" and manifest["format_version"] == 2
    assert manifest["order"] == [*(f"graph:{db}" for db in GRAPH_DATABASES),
                                 "postgres:storage", "keys:storage", "postgres:context",
                                 "keys:context", "objects"]
    # The person data keys are in files of their own (not in the dumps), every row:
    # the restored tables hold them all again (test_every_row_grant_and_policy_...).
    for db in ("storage", "context"):
        keys = manifest["person_keys"]["databases"][db]
        assert keys["file"] == f"keys/{db}.person_data_keys.jsonl"
        assert keys["rows"] == len(rt.taken.rows[db]["public.person_data_keys"]) >= 1
    listed = {a["path"]: a for a in manifest["artifacts"]}
    on_disk = {p.relative_to(rt.backup).as_posix() for p in rt.backup.rglob("*")
               if p.is_file() and p.name != "manifest.json"}
    assert set(listed) == on_disk
    for rel, art in listed.items():
        data = (rt.backup / rel).read_bytes()
        assert art["size"] == len(data) and art["sha256"] == hashlib.sha256(data).hexdigest()
    for db in ("storage", "context"):
        revision = rt.source.postgres.psql(f"SELECT version_num FROM alembic_version_{db}",
                                           database=db).split()
        assert manifest["postgres"][db]["alembic"] == {f"alembic_version_{db}": revision}
        assert {"unison", "unison_app", "unison_system"} <= \
            set(manifest["postgres"][db]["roles"])
        assert (rt.backup / manifest["postgres"][db]["file"]).read_bytes()[:5] == b"PGDMP"
        # The keys the data needs (and no backup holds) are named.
        assert manifest["postgres"][db]["keys"]["kek_versions"] == ["v1"]
    assert len(manifest["postgres"]["storage"]["keys"]["audit_signing_key_ids"]) == 1
    for db in GRAPH_DATABASES:
        files = sorted((Path(__file__).parents[2] / "migrations" / f"{db}_graph")
                       .glob("*.cypher"))
        assert manifest["graph"][db]["migrations"] == {db: [f.name.split(".")[0]
                                                            for f in files]}
        assert manifest["graph"][db]["nodes"] > len(files)
    source_objects = rt.taken.objects
    assert manifest["objects"]["count"] == len(source_objects)
    assert {f"objects/{k}": v for k, v in source_objects.items()} == \
        {k: a["sha256"] for k, a in listed.items() if k.startswith("objects/")}
    assert rt.population.big_sha256 in source_objects.values()


@pytest.mark.parametrize("database", ["storage", "context"])
def test_every_row_grant_and_policy_is_restored(round_trip: RoundTrip, database: str):
    source = round_trip.taken.rows[database]
    restored = table_rows(round_trip.target, database)
    assert list(restored) == list(source)
    for table in source:
        assert restored[table] == source[table], table
    populated = [t for t, rows in source.items() if rows and "alembic" not in t]
    assert len(populated) >= (12 if database == "storage" else 3), populated
    assert security(round_trip.target, database) == round_trip.taken.security[database]


def test_every_object_is_restored(round_trip: RoundTrip):
    source = round_trip.taken.objects
    restored = object_digests(round_trip.target.state_dir / "objects")
    assert restored == source
    assert round_trip.population.big_sha256 in restored.values()
    # Every payload row of the restored database finds its payload, with its digest.
    rows = round_trip.target.postgres.psql(
        "SELECT storage_key, sha256 FROM objects", database="storage").split()
    assert rows
    for row in rows:
        key, digest = row.split("|")
        assert restored[key] == digest, key


def test_every_graph_node_and_edge_is_restored(round_trip: RoundTrip):
    source = round_trip.taken.graph
    restored = graph_content(round_trip.target)
    assert restored == source
    for database in GRAPH_DATABASES:
        assert len(source[database]["relationships"]) >= 2, database
        assert round_trip.population.person in "".join(source[database]["nodes"])
    assert "unison_backup_id" not in json.dumps(restored)


def test_restored_platform_serves_the_data(round_trip: RoundTrip, http: httpx.Client):
    target, pop = round_trip.target, round_trip.population
    person = target.person_headers(pop.person)
    verdict = good(http.post(f"{target.storage}/v1/audit/verify", headers=person))
    assert verdict["valid"] is True, verdict
    assert verdict["checked"] >= 3 and verdict["checkpoints_checked"] >= 1
    # The vault decrypts with the restored data keys under the configured KEK.
    secret = good(http.get(f"{target.storage}/v1/vault/secrets/{pop.vault_name}",
                           headers=person))
    assert secret["value"] == pop.vault_value
    payload = http.get(f"{target.storage}/v1/objects/{pop.big_object}", headers=person)
    assert payload.status_code == 200
    assert hashlib.sha256(payload.content).hexdigest() == pop.big_sha256
    profile = ok(http.get(f"{target.context}/profile/{pop.person}", headers=person))
    assert profile["profile"]["locale"] == "en-GB"
    found = good(http.get(f"{target.intent_graph}/v1/nodes/{pop.person}/neighbours",
                          headers=person, params={"depth": 2}))
    assert any(i["node"]["props"].get("storage_id") == pop.big_object
               for i in found["items"])


def test_runtime_role_is_still_refused_other_tenants_rows(round_trip: RoundTrip):
    pg = round_trip.target.postgres
    for table in ("kv_records", "audit_events", "objects", "vault_secrets"):
        total = int(pg.psql(f"SELECT count(*) FROM {table}", database="storage"))
        assert total > 0, table

        def seen(tenant: str, table: str = table) -> int:
            out = pg.psql(f"SELECT set_config('app.tenant_id', '{tenant}', false); "
                          f"SELECT count(*) FROM {table}", database="storage",
                          user="unison_app")
            return int(out.split()[-1])

        assert seen("home") == total, table
        assert seen("another-household") == 0, table
    owner = pg.psql("SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class "
                    "WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'",
                    database="storage").split()
    assert owner == ["unison"]


def test_restore_refuses_a_non_empty_target(round_trip: RoundTrip):
    rt = round_trip
    before = table_rows(rt.target, "storage")
    refused = admin("restore", rt.backup, "--devstack", rt.target.state_dir,
                    env=rt.target.env)
    assert refused.returncode == 4, refused.stdout + refused.stderr
    message = " ".join(refused.stderr.split())
    assert "not empty" in message
    assert "storage database: rows in" in message and "context database: rows in" in message
    assert "object store" in message and "payload(s)" in message
    for database in GRAPH_DATABASES:
        assert f"graph database {database}:" in message
    assert "--force" in message
    assert table_rows(rt.target, "storage") == before


def test_restore_refuses_a_target_that_does_not_fit(round_trip: RoundTrip):
    rt = round_trip
    graphs = admin("restore", rt.backup, "--force", "--devstack", rt.target.state_dir,
                   "--graph-databases", "context", env=rt.target.env)
    assert graphs.returncode == 4, graphs.stdout + graphs.stderr
    assert "do not match the target's (context)" in " ".join(graphs.stderr.split())
    pg = rt.target.postgres
    revision = pg.psql("SELECT version_num FROM alembic_version_context",
                       database="context").strip()
    pg.psql("UPDATE alembic_version_context SET version_num = '9999'", database="context")
    try:
        newer = admin("restore", rt.backup, "--force", "--devstack", rt.target.state_dir,
                      env=rt.target.env)
    finally:
        pg.psql(f"UPDATE alembic_version_context SET version_num = '{revision}'",
                database="context")
    assert newer.returncode == 4, newer.stdout + newer.stderr
    message = " ".join(newer.stderr.split())
    assert "does not fit the backup" in message
    assert "context database: the target is at alembic" in message and "9999" in message


def test_restore_refuses_a_corrupted_backup(round_trip: RoundTrip, tmp_path: Path):
    rt = round_trip
    corrupt = tmp_path / "corrupt"
    shutil.copytree(rt.backup, corrupt)
    manifest = json.loads((corrupt / "manifest.json").read_text())
    big = next(a["path"] for a in manifest["artifacts"]
               if a["sha256"] == rt.population.big_sha256)
    data = bytearray((corrupt / big).read_bytes())
    data[len(data) // 2] ^= 0x01
    (corrupt / big).write_bytes(bytes(data))
    (corrupt / "graph" / "stray.jsonl").write_text("{}\n")
    before = graph_content(rt.target)
    # Refused before the target is looked at: even --force does not get past it.
    refused = admin("restore", corrupt, "--force", "--devstack", rt.target.state_dir,
                    env=rt.target.env)
    assert refused.returncode == 3, refused.stdout + refused.stderr
    message = " ".join(refused.stderr.split())
    assert f"{big}: SHA-256 mismatch" in message
    assert "graph/stray.jsonl: not in the manifest" in message
    assert "postgres/storage.dump" not in message  # the intact files pass
    (corrupt / "postgres" / "context.dump").unlink()
    again = admin("restore", corrupt, "--devstack", rt.target.state_dir, env=rt.target.env)
    assert again.returncode == 3
    assert "postgres/context.dump: missing" in " ".join(again.stderr.split())
    assert graph_content(rt.target) == before


def test_forced_restore_replaces_what_the_target_holds(round_trip: RoundTrip,
                                                       http: httpx.Client):
    rt = round_trip
    person = rt.target.person_headers("backup-late")
    good(http.put(f"{rt.target.storage}/v1/kv/notes/late", headers=person,
                  json={"value": {"late": True}}), 201)
    good(http.post(f"{rt.target.context_graph}/context/update", headers=person,
                   json={"user_id": "backup-late", "dimensions": []}))
    assert table_rows(rt.target, "storage") != rt.taken.rows["storage"]
    cache = redis.Redis.from_url(rt.target.redis_url)
    try:
        assert list(cache.scan_iter(match="graph:hot:*"))  # the write bumped a generation
        forced = admin("restore", rt.backup, "--force", "--devstack", rt.target.state_dir,
                       env=rt.target.env)
        assert forced.returncode == 0, forced.stderr[-3000:]
        assert list(cache.scan_iter(match="graph:hot:*")) == []
    finally:
        cache.close()
    purged = next(line for line in forced.stdout.splitlines() if "caches purged" in line)
    assert int(purged.split(":")[1].split()[0]) >= 1
    for database in ("storage", "context"):
        assert table_rows(rt.target, database) == rt.taken.rows[database]
    assert graph_content(rt.target) == rt.taken.graph


def test_report_timings(round_trip: RoundTrip):
    """Backup and restore of this platform are quick; printed for the record."""
    print(f"backup {round_trip.backup_seconds:.1f} s, "
          f"restore {round_trip.restore_seconds:.1f} s")
    assert "restore complete" in round_trip.restore_output
    assert "storage needs kek versions: v1" in round_trip.restore_output
    assert round_trip.backup_seconds < 120 and round_trip.restore_seconds < 120
