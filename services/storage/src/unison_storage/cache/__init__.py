"""Agent-runtime records: cache."""
