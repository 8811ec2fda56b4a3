"""The backup and restore commands before any data moves: connections derived from a
devstack, refusals (missing connections, an output directory in use, a directory that is
no backup, an unknown backend) and a server's refusal reported as a failed backup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from unison_admin.cli import app
from unison_admin.graph_export import GraphExportError
from unison_admin.manifest import Manifest
from unison_admin.restore import graph_targets
from unison_admin.targets import build_config

runner = CliRunner()
NO_ENV = {"UNISON_ADMIN_STORAGE_DATABASE_URL": "", "UNISON_ADMIN_CONTEXT_DATABASE_URL": ""}


def test_both_commands_are_registered():
    out = runner.invoke(app, ["--help"])
    assert out.exit_code == 0
    assert "backup" in out.output and "restore" in out.output


def test_backup_without_a_database_url_is_refused(tmp_path: Path):
    out = runner.invoke(app, ["backup", "--out", str(tmp_path / "b"),
                              "--object-root", str(tmp_path)], env=NO_ENV)
    assert out.exit_code == 2
    assert "no URL for the storage and context database" in " ".join(out.output.split())
    assert not (tmp_path / "b").exists()


def test_backup_into_a_directory_in_use_is_refused(tmp_path: Path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "old").write_text("x")
    out = runner.invoke(app, ["backup", "--out", str(tmp_path / "b"), "--devstack",
                              str(tmp_path / "state")], env=NO_ENV)
    assert out.exit_code == 2
    assert "is not an empty directory" in " ".join(out.output.split())


def test_restore_of_a_directory_without_manifest_is_refused(tmp_path: Path):
    out = runner.invoke(app, ["restore", str(tmp_path), "--devstack",
                              str(tmp_path / "state")], env=NO_ENV)
    assert out.exit_code == 3
    assert "has no manifest.json" in " ".join(out.output.split())


def test_an_unknown_object_backend_is_refused(tmp_path: Path):
    out = runner.invoke(app, ["backup", "--out", str(tmp_path / "b"), "--devstack",
                              str(tmp_path / "state"), "--object-backend", "ftp"], env=NO_ENV)
    assert out.exit_code == 2
    assert "must be fs or s3" in " ".join(out.output.split())


def test_a_graph_server_that_refuses_the_login_fails_the_backup(tmp_path: Path,
                                                                 postgres: Any):
    """The graphs are taken first: a wrong password stops the backup there, named,
    with no manifest written."""
    from tests import graph_servers

    server = graph_servers.arcadedb()
    out = tmp_path / "b"
    url = postgres.url("postgres", user="postgres", driver="postgresql")
    result = runner.invoke(app, [
        "backup", "--out", str(out), "--storage-db", url, "--context-db", url,
        "--object-root",
        str(tmp_path / "objects"), "--graph-uri", server.bolt_url, "--graph-user", "root",
        "--graph-password", "wrong-password", "--graph-databases", "context"], env=NO_ENV)
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert "backup failed" in text and "Authentication failed" in text
    assert "no manifest.json" in text
    assert not (out / "manifest.json").exists()


def test_devstack_derives_every_connection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    state = tmp_path / "state"
    (state / "secrets").mkdir(parents=True)
    (state / "secrets" / "arcadedb").write_text("graph-pw\n")
    monkeypatch.setenv("DEVSTACK_POSTGRES_PORT", "45001")
    monkeypatch.setenv("DEVSTACK_BOLT_PORT", "45002")
    monkeypatch.setenv("DEVSTACK_OBJECT_BACKEND", "fs")
    monkeypatch.setenv("DEVSTACK_REDIS_PORT", "45004")
    options: dict[str, Any] = dict.fromkeys(
        ("storage_db", "context_db", "object_backend", "object_root", "s3_endpoint",
         "s3_bucket", "s3_region", "s3_key", "s3_secret", "graph_uri", "graph_user",
         "graph_password", "graph_databases", "pg_bin"))
    cfg = build_config(devstack=state, **options)
    assert cfg.databases == {"storage": "postgresql://postgres@127.0.0.1:45001/storage",
                             "context": "postgresql://postgres@127.0.0.1:45001/context"}
    assert cfg.objects.backend == "fs" and cfg.objects.fs_root == state.resolve() / "objects"
    assert (cfg.graph.uri, cfg.graph.user, cfg.graph.password) == \
        ("bolt://127.0.0.1:45002", "root", "graph-pw")
    assert cfg.graph.databases == ("context", "intent")
    assert cfg.redis_url == "redis://127.0.0.1:45004/0"
    # Explicit options win; a shared Neo4j database is named once.
    cfg = build_config(devstack=state, **{**options, "graph_databases": "neo4j, neo4j",
                                          "storage_db": "postgresql://a@b/storage"})
    assert cfg.graph.databases == ("neo4j",)
    assert cfg.databases["storage"] == "postgresql://a@b/storage"
    monkeypatch.setenv("DEVSTACK_OBJECT_BACKEND", "s3")
    monkeypatch.setenv("DEVSTACK_S3_PORT", "45003")
    cfg = build_config(devstack=state, **options)
    assert cfg.objects.backend == "s3"
    assert cfg.objects.s3_endpoint_url == "http://127.0.0.1:45003"
    assert cfg.objects.s3_access_key_id and cfg.objects.s3_secret_access_key


@pytest.mark.parametrize(("backup", "option", "expected"), [
    (["context", "intent"], "context,intent", {"context": "context", "intent": "intent"}),
    (["neo4j"], "graph", {"neo4j": "graph"}),
    (["context", "intent"], "neo4j", None),
    (["context"], "a,b", None),
    (["context", "intent"], "context=c2,intent=i2", {"context": "c2", "intent": "i2"}),
    (["context", "intent"], "context=c2,intent", {"context": "c2", "intent": "intent"}),
    (["context", "intent"], "context=one,intent=one", None),
])
def test_graph_databases_map_by_rename_name_or_one_to_one(
        backup: list[str], option: str, expected: dict[str, str] | None, tmp_path: Path):
    manifest = Manifest(graph={name: {"nodes": 0, "relationships": 0} for name in backup})
    none: dict[str, Any] = dict.fromkeys(
        ("object_backend", "s3_endpoint", "s3_bucket", "s3_region", "s3_key", "s3_secret",
         "graph_uri", "graph_user", "graph_password", "pg_bin"))
    cfg = build_config(devstack=None, storage_db="postgresql://a/s",
                       context_db="postgresql://a/c", object_root=tmp_path,
                       graph_databases=option, **none)
    if expected is None:
        with pytest.raises(GraphExportError, match="do not match the target's"):
            graph_targets(manifest, cfg)
    else:
        assert graph_targets(manifest, cfg) == expected


def test_a_database_role_bound_by_row_level_security_is_refused_first(tmp_path: Path,
                                                                     postgres: Any):
    """Checked before anything is written: the graph server is not even asked."""
    url = postgres.url("postgres", user="unison", driver="postgresql")
    out = tmp_path / "b"
    result = runner.invoke(app, [
        "backup", "--out", str(out), "--storage-db", url, "--context-db", url,
        "--object-root", str(tmp_path / "objects"), "--graph-uri", "bolt://127.0.0.1:1",
        "--graph-databases", "context"], env=NO_ENV)
    assert result.exit_code == 1, result.output
    assert "unison is neither a superuser nor BYPASSRLS" in " ".join(result.output.split())
    assert not out.exists() or not any(out.rglob("*"))
