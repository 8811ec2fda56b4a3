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
