"""docs/client.md's quick start, run as written against a live storage process: the
token command from the page, then the page's program in a fresh interpreter."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from unison_shared.testing import TEST_SECRET

DOC = Path(__file__).resolve().parents[2] / "docs" / "client.md"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(), re.S)


def test_quick_start_runs_as_written(live_storage, tmp_path) -> None:
    shell = _blocks("sh")[0]
    assert "make up" in shell
    command = re.search(r"UNISON_TOKEN=\$\((.*)\)", shell)
    assert command is not None
    args = shlex.split(command.group(1))
    assert args[:3] == ["uv", "run", "unison-devstack"]
    # `uv run unison-devstack ...` is this interpreter's unison-devstack; the live
    # process is signed with the tests' development secret.
    env = {**os.environ, "UNISON_AUTH_HS256_SECRET": TEST_SECRET}
    token = subprocess.run([sys.executable, "-m", "unison_devstack.cli", *args[3:]],
                           env=env, check=True, capture_output=True, text=True,
                           timeout=60).stdout.strip()
    assert token.count(".") == 2

    program = tmp_path / "quickstart.py"
    program.write_text(_blocks("python")[0])
    env = {**os.environ, "UNISON_STORAGE_URL": live_storage, "UNISON_TOKEN": token}
    run = subprocess.run([sys.executable, str(program)], env=env, capture_output=True,
                         text=True, timeout=120, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "secret: sk-test-123"
    assert lines[1] == "cached: hello"
    assert lines[2] == "uploaded: 11 bytes"
    assert lines[3] == "downloaded: b'hello, file'"
    assert lines[4].startswith(f"link: {live_storage}/v1/objects/")
    assert lines[5] == "nearest: tea"
    assert lines[6] == "not found: no record prefs/missing"


def test_sync_example_runs(live_storage, alice, tmp_path) -> None:
    program = tmp_path / "sync_example.py"
    program.write_text(_blocks("python")[1])
    env = {**os.environ, "UNISON_STORAGE_URL": live_storage, "UNISON_TOKEN": alice.token}
    run = subprocess.run([sys.executable, str(program)], env=env, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "{'step': 1}"
