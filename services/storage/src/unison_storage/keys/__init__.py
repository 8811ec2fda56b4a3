"""Per-tenant data keys for envelope encryption (used by the vault and sensitive KV)."""
