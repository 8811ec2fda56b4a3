"""The fixtures' choice between packaged servers and containers.

The container path runs only where a Docker engine answers (none here); what can be
checked everywhere is the choice itself and the connection details it produces.
"""

from __future__ import annotations

from pathlib import Path

from unison_devstack.postgres import PostgresServer
from unison_shared.testing.servers import (
    ContainerPostgres,
    ContainerRedis,
    make_postgres,
    make_redis,
)


def test_override_forces_each_kind(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("UNISON_TEST_SERVERS", "containers")
    assert isinstance(make_postgres(tmp_path), ContainerPostgres)
    assert isinstance(make_redis(tmp_path), ContainerRedis)
    monkeypatch.setenv("UNISON_TEST_SERVERS", "packages")
    pg = make_postgres(tmp_path)
    assert type(pg) is PostgresServer
    assert not isinstance(make_redis(tmp_path), ContainerRedis)


def test_password_servers_put_credentials_in_urls(tmp_path: Path):
    server = PostgresServer(tmp_path, 5433, host="10.1.2.3", password="pw")
    assert server.url("storage") == "postgresql+asyncpg://unison:pw@10.1.2.3:5433/storage"
    local = PostgresServer(tmp_path, 5433)
    assert local.url("storage") == "postgresql+asyncpg://unison@127.0.0.1:5433/storage"
