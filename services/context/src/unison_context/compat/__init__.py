"""Legacy UnisonOS routes (contract.md § context), with their `{"ok": ...}` shapes."""
