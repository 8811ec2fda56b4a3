"""The whole suite runs on the platform's pytest plugin (unison_shared.testing): real
PostgreSQL, Redis and S3 servers once per session, callers with tokens. Each service's
fixtures live in its own folder's conftest."""

pytest_plugins = ["unison_shared.testing"]
