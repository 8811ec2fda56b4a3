"""The whole suite runs on the platform's pytest plugin (unison_shared.testing): real
PostgreSQL, Redis and S3 servers once per session, callers with tokens. Each service's
fixtures live in its own folder's conftest."""

# tests/graph_fixtures.py: the FAKE storage fixtures both graph services' tests share.
pytest_plugins = ["unison_shared.testing", "tests.graph_fixtures"]
