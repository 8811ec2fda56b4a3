"""Settings guards: the services run on PostgreSQL only, and say so clearly."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from unison_shared.database import create_engine, create_statement_pool
from unison_shared.settings import Environment, ServiceSettings


@pytest.mark.parametrize("env", list(Environment))
def test_a_non_postgres_url_is_refused_naming_the_setting(env):
    with pytest.raises(ValidationError, match="database_url: the services run on PostgreSQL"):
        ServiceSettings(database_url="sqlite+aiosqlite:///x.db", environment=env)


def test_a_postgres_url_is_accepted():
    settings = ServiceSettings(database_url="postgresql+asyncpg://u@h/db",
                               environment=Environment.DEV)
    assert settings.database_url.get_secret_value().startswith("postgresql")


async def test_engine_and_pool_require_postgres_url():
    with pytest.raises(ValueError, match="PostgreSQL"):
        create_engine("mysql://x")
    with pytest.raises(ValueError, match="PostgreSQL"):
        await create_statement_pool("sqlite+aiosqlite:///x.db", 1)
