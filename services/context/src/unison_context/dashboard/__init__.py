"""Dashboard state per person: cards and preferences, encrypted like profiles."""
