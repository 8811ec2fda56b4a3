"""The legacy UnisonOS routes (contract.md § intent-graph), with their shapes."""
