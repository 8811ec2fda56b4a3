"""Agent-runtime records: metrics."""
