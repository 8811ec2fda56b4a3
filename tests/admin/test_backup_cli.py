"""The backup and restore commands' refusals that need no server: missing connections,
an output directory in use, a directory that is no backup."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from unison_admin.cli import app

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
