"""Agent-runtime records: artifacts."""
