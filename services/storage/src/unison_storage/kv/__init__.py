"""Key/value records: namespace/key -> JSON with versioned check-and-set and TTL."""
