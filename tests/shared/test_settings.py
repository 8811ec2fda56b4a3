"""Settings guards: SQLite is a development convenience only."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from unison_shared.db import create_engine
from unison_shared.settings import Environment, ServiceSettings


def test_sqlite_refused_outside_dev_with_clear_error():
    with pytest.raises(ValidationError, match="SQLite is a development convenience only"):
        ServiceSettings(database_url="sqlite+aiosqlite:///x.db",
                        environment=Environment.PRODUCTION)
    with pytest.raises(ValidationError, match="ENVIRONMENT=dev"):
        ServiceSettings(database_url="sqlite+aiosqlite:///x.db", environment=Environment.TEST)


def test_engine_requires_postgres_url():
    with pytest.raises(ValueError, match="PostgreSQL"):
        create_engine("mysql://x")


def test_sqlite_in_dev_is_accepted():
    settings = ServiceSettings(database_url="sqlite+aiosqlite:///x.db",
                               environment=Environment.DEV)
    assert settings.database_url.get_secret_value().startswith("sqlite")


async def test_engine_refuses_sqlite_unless_told_dev(tmp_path):
    # The second guard behind the settings, for code that builds an engine from a URL.
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    with pytest.raises(ValueError, match="development convenience only"):
        create_engine(url)
    with pytest.raises(ValueError, match="aiosqlite"):
        create_engine(f"sqlite:///{tmp_path / 'x.db'}", allow_sqlite=True)
    engine = create_engine(url, allow_sqlite=True)
    try:
        async with engine.begin() as conn:
            pragmas = [(await conn.exec_driver_sql(f"PRAGMA {p}")).scalar()
                       for p in ("foreign_keys", "journal_mode", "busy_timeout")]
        assert pragmas == [1, "wal", 5000]
    finally:
        await engine.dispose()


async def test_sqlite_engine_refuses_what_postgresql_cannot_store(tmp_path):
    from unison_shared.db import UnstorableValue

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", allow_sqlite=True)
    try:
        for bad in ("a\x00b", "\ud800"):
            with pytest.raises(UnstorableValue):
                async with engine.begin() as conn:
                    await conn.exec_driver_sql("SELECT ?", (bad,))
    finally:
        await engine.dispose()
