"""The legacy UnisonOS routes (contract.md § context-graph), with their shapes."""
