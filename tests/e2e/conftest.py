"""The end-to-end suite's platform: started once per session with the Docker-free runner
and shared by every module (each test uses its own persons and markers)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.platform import Platform, started_platform


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    with started_platform(tmp_path_factory.mktemp("e2e") / "state") as plat:
        yield plat


@pytest.fixture(scope="session")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as client:
        yield client
