"""Agent-runtime records: threads."""
