"""Agent-runtime records: state."""
