"""Person erasure and export: everything storage holds about one person of a tenant."""
