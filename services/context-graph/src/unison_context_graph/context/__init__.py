"""Context state: dimensions and preferences per person, content kept in storage."""
