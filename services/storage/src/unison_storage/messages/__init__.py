"""Agent-runtime records: messages."""
