"""Per-person data keys, wrapped by the KEK keyring (envelope encryption)."""
