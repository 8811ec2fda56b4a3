"""Per-tenant data keys and the per-person keys beneath them, for envelope encryption
(vault, sensitive KV, agent state, workflow contexts, audit payloads about a person)."""
